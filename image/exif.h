// EXIF orientation: cameras and some scanners store pixels as the sensor saw them and record in the EXIF
// Orientation tag (0x0112) how to turn them for display. PIL's ImageOps.exif_transpose applies it;
// so does our JPEG decoder, so a model sees the image the right way up.
//
//   1 as stored            2 mirrored left-right      3 rotated 180          4 mirrored top-bottom
//   5 transposed (x<->y)   6 rotate 90 clockwise      7 transverse           8 rotate 90 counter-clockwise
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace cxr::image {

// The Orientation value from an APP1 payload that starts with "Exif\0\0" (libexif parses the TIFF
// structure). Returns 1 when the tag is absent, malformed or out of 1..8, or when the payload is larger than
// one APP1 segment can be (kMaxExifBytes, image/image.h).
int exif_orientation(const uint8_t* app1, size_t n);

// [C, H, W] as stored -> [C, H', W'] as displayed (H' = W, W' = H for 5..8). 1 (or any value outside
// 1..8) returns a copy.
Tensor apply_exif_orientation(const Tensor& chw, int orientation);

}  // namespace cxr::image
