#include "explain/npy.h"

#include <cstdint>
#include <cstring>

#include "core/atomic_file.h"

namespace cxr {

static_assert(sizeof(float) == 4, "npy: float must be IEEE-754 binary32");

std::string encode_npy(const Tensor& t) {
  CXR_CHECK(t.defined(), "encode_npy: undefined tensor");
  std::string shape = "(";
  for (int64_t d = 0; d < t.dim(); ++d)
    shape += std::to_string(t.size(d)) + (t.dim() == 1 ? "," : d + 1 < t.dim() ? ", " : "");
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  CXR_CHECK(header.size() <= 65535, "encode_npy: header too long for format 1.0");
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  const size_t bytes = static_cast<size_t>(t.numel()) * 4;
  const size_t at = out.size();
  out.resize(at + bytes);
  // x86 and ARM Linux are little-endian: the floats are already '<f4'.
  if (bytes) std::memcpy(&out[at], t.data(), bytes);
  return out;
}

void save_npy(const std::string& path, const Tensor& t) { cxr::write_file_atomic(path, encode_npy(t)); }

Tensor decode_npy(const std::string& b, const std::string& name) {
  CXR_CHECK(b.size() >= 10 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0, name, ": not a .npy file (bad magic)");
  const int major = static_cast<uint8_t>(b[6]);
  size_t hlen = 0, hstart = 0;
  if (major == 1) {
    hlen = static_cast<uint8_t>(b[8]) | (size_t(static_cast<uint8_t>(b[9])) << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    CXR_CHECK(b.size() >= 12, name, ": truncated .npy header");
    for (int i = 0; i < 4; ++i) hlen |= size_t(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    hstart = 12;
  } else {
    throw Error(str(name, ": unsupported .npy version ", major));
  }
  CXR_CHECK(hstart + hlen <= b.size(), name, ": truncated .npy header");
  const std::string h = b.substr(hstart, hlen);
  CXR_CHECK(h.find("'descr': '<f4'") != std::string::npos, name,
            ": only little-endian float32 ('<f4') is supported: ", h);
  CXR_CHECK(h.find("'fortran_order': False") != std::string::npos, name, ": Fortran-order arrays are not supported");
  const size_t sp = h.find("'shape': (");
  CXR_CHECK(sp != std::string::npos, name, ": .npy header has no shape: ", h);
  Shape shape;
  size_t i = sp + 10;
  while (i < h.size() && h[i] != ')') {
    if (h[i] >= '0' && h[i] <= '9') {
      int64_t v = 0;
      while (i < h.size() && h[i] >= '0' && h[i] <= '9') {
        CXR_CHECK(v <= (int64_t{1} << 40), name, ": .npy shape has an absurd size: ", h);  // no overflow below
        v = v * 10 + (h[i++] - '0');
      }
      shape.push_back(v);
    } else {
      ++i;
    }
  }
  CXR_CHECK(i < h.size(), name, ": .npy shape is not closed: ", h);
  CXR_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), name, ": ", shape.size(), " dimensions (at most ",
            kMaxDims, ")");
  // The data must be exactly the shape's size, checked before allocating (no product can overflow: the
  // running product stays within the file's size).
  const size_t at = hstart + hlen, have = b.size() - at;
  size_t elems = 1;
  for (int64_t d : shape) {
    CXR_CHECK(d == 0 || elems <= have / 4 / static_cast<size_t>(d), name, ": data is ", have, " bytes, shape ",
              to_string(shape), " needs more");
    elems *= static_cast<size_t>(d);
  }
  const size_t bytes = elems * 4;
  CXR_CHECK(have == bytes, name, ": data is ", have, " bytes, shape ", to_string(shape), " needs ", bytes);
  Tensor t = Tensor::empty(shape);
  if (bytes) std::memcpy(t.data(), b.data() + at, bytes);
  return t;
}

Tensor load_npy(const std::string& path) { return decode_npy(cxr::read_file(path), path); }

}  // namespace cxr
