// Image loading: read the file, pick the codec by magic bytes, enforce limits; and save_png.
#include "io/image.h"

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/jpeg.h"
#include "io/png.h"

namespace cxr::io {
namespace {

std::string describe_magic(const uint8_t* data, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n && i < 8; ++i) {
    if (i) s += ' ';
    s += hex[data[i] >> 4];
    s += hex[data[i] & 15];
  }
  return s;
}

void check_not_empty(size_t n, const std::string& name) {
  CXR_CHECK(n > 0, name, ": empty file (0 bytes), not an image");
}

[[noreturn]] void unknown_format(const uint8_t* data, size_t n, const std::string& name) {
  throw Error(str(name, ": not a PNG or JPEG file (unrecognised magic bytes: ", describe_magic(data, n), ")"));
}

Image decode(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits) {
  check_not_empty(n, name);
  if (detail::is_png(data, n)) return detail::decode_png(data, n, name, limits);
  if (detail::is_jpeg(data, n)) return detail::decode_jpeg(data, n, name, limits);
  unknown_format(data, n, name);
}

}  // namespace

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name_for_errors,
                   const DecodeLimits& limits) {
  return decode(bytes.data(), bytes.size(), name_for_errors, limits);
}

Image load_image(const std::string& path, const DecodeLimits& limits) {
  std::string bytes = read_file(path);
  return decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, limits);
}

ImageInfo probe_image(const std::string& path) {
  std::string bytes = read_file(path);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  check_not_empty(bytes.size(), path);
  if (detail::is_png(data, bytes.size())) return detail::probe_png(data, bytes.size(), path);
  if (detail::is_jpeg(data, bytes.size())) return detail::probe_jpeg(data, bytes.size(), path);
  unknown_format(data, bytes.size(), path);
}

void save_png(const std::string& path, const Tensor& chw) {
  write_file_atomic(path, detail::encode_png(chw, path));
}

}  // namespace cxr::io
