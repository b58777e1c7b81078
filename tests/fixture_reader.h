// Reader for the tensor fixtures written by tests/fixtures/make_fixtures.py (format described there):
//   "CXRFIX01", uint32 count, then per tensor: uint32 name length, name, uint32 ndim, int64 sizes[ndim],
//   float32 values. Little-endian. Self-contained on purpose: the parity test must not depend on io/.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr::testing {

class Fixture {
 public:
  explicit Fixture(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    CXR_CHECK(f, "fixture: cannot open ", path);
    std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t pos = 0;
    auto take = [&](void* dst, size_t n) {
      CXR_CHECK(pos + n <= buf.size(), "fixture ", path, ": truncated at byte ", pos);
      std::memcpy(dst, buf.data() + pos, n);
      pos += n;
    };
    char magic[8];
    take(magic, 8);
    CXR_CHECK(std::memcmp(magic, "CXRFIX01", 8) == 0, "fixture ", path, ": bad magic");
    uint32_t count = 0;
    take(&count, 4);
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t len = 0, ndim = 0;
      take(&len, 4);
      CXR_CHECK(len < 4096, "fixture ", path, ": name length ", len, " at tensor ", i);
      std::string name(len, '\0');
      take(name.data(), len);
      take(&ndim, 4);
      CXR_CHECK(ndim <= static_cast<uint32_t>(kMaxDims), "fixture ", path, ": ", name, " has ", ndim, " dims");
      Shape shape(ndim);
      for (auto& s : shape) take(&s, 8);
      Tensor t = Tensor::empty(shape);
      take(t.data(), static_cast<size_t>(t.numel()) * sizeof(float));
      tensors_[name] = t;
    }
    CXR_CHECK(pos == buf.size(), "fixture ", path, ": ", buf.size() - pos, " trailing bytes");
  }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const Tensor& operator[](const std::string& name) const {
    auto it = tensors_.find(name);
    CXR_CHECK(it != tensors_.end(), "fixture: no tensor named '", name, "'");
    return it->second;
  }
  const std::map<std::string, Tensor>& all() const { return tensors_; }

 private:
  std::map<std::string, Tensor> tensors_;
};

// max|a - b| / max(max|b|, floor): the error of a relative to the reference b, over the whole tensor.
inline double relative_error(const Tensor& a, const Tensor& b, double floor = 1e-3) {
  CXR_CHECK(a.numel() == b.numel(), "relative_error: ", to_string(a.shape()), " vs ", to_string(b.shape()));
  double diff = 0, ref = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    ref = std::max(ref, std::abs(static_cast<double>(b[i])));
  }
  return diff / std::max(ref, floor);
}

}  // namespace cxr::testing
