// Image loading: read the file, pick the codec by magic bytes (never the extension), enforce limits;
// and save_png.
#include "image/image.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "image/jpeg.h"
#include "image/png.h"

namespace cxr::image {
namespace {

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
const uint8_t kJpegSignature[3] = {0xff, 0xd8, 0xff};

std::string hex_bytes(const uint8_t* data, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n && i < 8; ++i) {
    if (i) s += ' ';
    s += hex[data[i] >> 4];
    s += hex[data[i] & 15];
  }
  return s;
}

enum class Format { kPng, kJpeg };

// The format from the first bytes, or a clear error: empty file, a file cut inside the signature, or
// something else (the bytes are shown, which usually identifies it).
Format sniff(const uint8_t* data, size_t n, const std::string& name) {
  CXR_CHECK(n > 0, name, ": empty file (0 bytes), not an image");
  if (detail::is_png(data, n)) return Format::kPng;
  if (detail::is_jpeg(data, n)) return Format::kJpeg;
  if (n < sizeof kPngSignature && std::memcmp(data, kPngSignature, n) == 0)
    throw Error(str(name, ": truncated PNG file: only ", n, " bytes"));
  if (n < sizeof kJpegSignature && std::memcmp(data, kJpegSignature, n) == 0)
    throw Error(str(name, ": truncated JPEG file: only ", n, " bytes"));
  throw Error(str(name, ": not a PNG or JPEG file (it starts with bytes ", hex_bytes(data, n), ")"));
}

Image decode(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits) {
  return sniff(data, n, name) == Format::kPng ? detail::decode_png(data, n, name, limits)
                                              : detail::decode_jpeg(data, n, name, limits);
}

// The first `n` bytes of a file (fewer if it is shorter).
std::string read_prefix(const std::string& path, size_t n) {
  FILE* f = std::fopen(path.c_str(), "rb");
  CXR_CHECK(f != nullptr, path, ": cannot open: ", std::strerror(errno));
  std::string out(n, '\0');
  size_t got = std::fread(out.data(), 1, n, f);
  bool bad = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  CXR_CHECK(!bad, path, ": read error: ", std::strerror(err));
  out.resize(got);
  return out;
}

const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

void check_decode_limits(const std::string& name, int64_t W, int64_t H, int64_t C, const DecodeLimits& limits) {
  CXR_CHECK(W <= limits.max_side && H <= limits.max_side, name, ": image is ", W, " x ", H,
            " pixels, larger than the limit of ", limits.max_side, " pixels per side");
  CXR_CHECK(W * H <= limits.max_pixels, name, ": image is ", W, " x ", H, " = ", W * H,
            " pixels, more than the limit of ", limits.max_pixels);
  const int64_t bytes = W * H * C * static_cast<int64_t>(sizeof(float));  // W, H <= 2^31: no overflow
  CXR_CHECK(bytes <= limits.max_bytes, name, ": image is ", W, " x ", H, " x ", C, " channels = ", bytes,
            " bytes decoded, more than the limit of ", limits.max_bytes, " bytes");
}

Image decode_image(const std::vector<uint8_t>& bytes, const std::string& name_for_errors,
                   const DecodeLimits& limits) {
  return decode(bytes.data(), bytes.size(), name_for_errors, limits);
}

Image load_image(const std::string& path, const DecodeLimits& limits) {
  std::string bytes = read_file(path);
  return decode(bytes_of(bytes), bytes.size(), path, limits);
}

ImageInfo probe_image(const std::string& path) {
  // Sniff first, so probing a large non-image (a checkpoint) does not read all of it.
  std::string head = read_prefix(path, 16);
  sniff(bytes_of(head), head.size(), path);
  std::string bytes = read_file(path);  // headers may sit after large APP segments: take the whole file
  Format f = sniff(bytes_of(bytes), bytes.size(), path);
  return f == Format::kPng ? detail::probe_png(bytes_of(bytes), bytes.size(), path)
                           : detail::probe_jpeg(bytes_of(bytes), bytes.size(), path);
}

std::string encode_png(const Tensor& chw, const std::string& name_for_errors) {
  return detail::encode_png(chw, name_for_errors);
}

void save_png(const std::string& path, const Tensor& chw) {
  write_file_atomic(path, detail::encode_png(chw, path));
}

}  // namespace cxr::image
