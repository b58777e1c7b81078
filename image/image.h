// Images in and out of cxr.
//
// Decoding picks the codec by the file's magic bytes, never its extension (a PNG named .jpg loads).
// A decoded image is a float tensor [C, H, W] with values in [0, 1], C = 1 (gray), 2 (gray+alpha), 3 (RGB)
// or 4 (RGBA), whatever the file's bit depth or palette; EXIF orientation is already applied.
// Every failure throws cxr::Error whose message starts with the file's path and says what is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr::image {

struct ImageInfo {
  std::string format;       // "PNG" or "JPEG"
  int width = 0, height = 0;  // as stored (before EXIF rotation)
  int channels = 0;         // of the decoded tensor
  int bit_depth = 8;
  std::string mode;         // PIL-style: "L", "LA", "RGB", "RGBA", "P", "CMYK", "I;16"
  bool progressive = false; // JPEG
  bool interlaced = false;  // PNG (Adam7)
  int exif_orientation = 1; // 1..8, 1 = as stored
};

struct Image {
  Tensor pixels;  // [C, H, W] in [0, 1]
  ImageInfo info;
  int width() const { return static_cast<int>(pixels.size(2)); }
  int height() const { return static_cast<int>(pixels.size(1)); }
  int channels() const { return static_cast<int>(pixels.size(0)); }
};

// Limits a file cannot talk its way past, one definition for every codec (PNG, JPEG, and the EXIF
// rotation that copies a decoded JPEG). All are checked against the header, before anything image-sized is
// allocated; a refusal is a cxr::Error naming the file, its size and the limit.
inline constexpr int64_t kMaxImageSide = 30000;              // pixels per side
inline constexpr int64_t kMaxImagePixels = 300'000'000;      // 300 megapixels
inline constexpr int64_t kMaxDecodedBytes = int64_t{4} << 30;  // 4 GiB: the float [C, H, W] tensor
// EXIF: libexif parses one APP1 segment, at most 65,533 bytes by the JPEG format; anything larger handed to
// exif_orientation is ignored (orientation 1). The rotated copy has the image's own size, so the limits
// above bound it too.
inline constexpr size_t kMaxExifBytes = 65533;

struct DecodeLimits {
  int64_t max_side = kMaxImageSide;
  int64_t max_pixels = kMaxImagePixels;
  int64_t max_bytes = kMaxDecodedBytes;  // C x H x W x 4 bytes of the decoded float tensor
};

// Throws cxr::Error ("<name>: image is W x H pixels, larger than the limit of ...") when an image of this
// header exceeds `limits`; the codecs call it before allocating. `channels` is the decoded channel count.
void check_decode_limits(const std::string& name, int64_t width, int64_t height, int64_t channels,
                         const DecodeLimits& limits);

Image load_image(const std::string& path, const DecodeLimits& limits = {});
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name_for_errors,
                   const DecodeLimits& limits = {});
ImageInfo probe_image(const std::string& path);  // header only (for `cxr info`)

// Writes 8-bit PNG from [C, H, W] in [0, 1] (clamped, rounded), C = 1, 3 or 4. Atomic (temp + rename).
void save_png(const std::string& path, const Tensor& chw);
// The same PNG file's bytes, in memory (`cxr serve` answers with them).
std::string encode_png(const Tensor& chw, const std::string& name_for_errors = "png");

}  // namespace cxr::image
