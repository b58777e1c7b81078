// PNG codec (libpng), internal to image/: image.cpp dispatches here by magic bytes.
//
// libpng reports errors by longjmp. The functions here keep every setjmp in a small function that owns no
// C++ object with a destructor, so a longjmp never skips a destructor; libpng structs are freed by the
// caller's guard whether decoding succeeded or not.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace cxr::image::detail {

// The largest ancillary chunk (text, ICC profile, ...) libpng may allocate, compressed or after
// decompression: a chunk's 4-byte length could otherwise ask for up to 2 GiB before its data is read. Image
// data (IDAT) is streamed and not bounded by this; DecodeLimits (image/image.h) bounds the image.
inline constexpr size_t kMaxPngChunkBytes = 8'000'000;  // libpng's own default, which Debian's build disables

bool is_png(const uint8_t* data, size_t n);  // the 8-byte PNG signature

// `name` starts every error message (the file path).
Image decode_png(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits);
ImageInfo probe_png(const uint8_t* data, size_t n, const std::string& name);

// 8-bit PNG bytes from [C, H, W] in [0, 1], C = 1, 2, 3 or 4 (clamped, rounded to nearest).
std::string encode_png(const Tensor& chw, const std::string& name);

}  // namespace cxr::image::detail
