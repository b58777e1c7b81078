// JPEG decoder (libjpeg-turbo), internal to image/: image.cpp dispatches here by magic bytes.
//
// Baseline and progressive, gray and YCbCr/RGB; CMYK and YCCK are converted to RGB (Adobe files store
// inverted CMYK, as Pillow assumes). The EXIF orientation is applied. libjpeg reports errors through
// error_exit, which longjmps back into small setjmp functions that own no C++ objects.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace cxr::image::detail {

bool is_jpeg(const uint8_t* data, size_t n);  // SOI marker FF D8 FF

// `name` starts every error message (the file path).
Image decode_jpeg(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits);
ImageInfo probe_jpeg(const uint8_t* data, size_t n, const std::string& name);

}  // namespace cxr::image::detail
