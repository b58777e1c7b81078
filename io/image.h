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

namespace cxr::io {

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

struct DecodeLimits {
  int64_t max_side = 30000;          // pixels per side
  int64_t max_pixels = 300000000;    // 300 megapixels
};

Image load_image(const std::string& path, const DecodeLimits& limits = {});
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name_for_errors,
                   const DecodeLimits& limits = {});
ImageInfo probe_image(const std::string& path);  // header only (for `cxr info`)

// Writes 8-bit PNG from [C, H, W] in [0, 1] (clamped, rounded), C = 1, 3 or 4. Atomic (temp + rename).
void save_png(const std::string& path, const Tensor& chw);

}  // namespace cxr::io
