#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/allocator.h"

namespace cxr {

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

static void validate(const Shape& shape) {
  CXR_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "tensor shape ", to_string(shape),
            " has more than ", kMaxDims, " dimensions");
  for (int64_t d : shape) CXR_CHECK(d >= 0, "tensor shape ", to_string(shape), " has a negative size");
}

Tensor Tensor::empty(const Shape& shape) {
  validate(shape);
  Tensor t;
  t.shape_ = shape;
  t.numel_ = cxr::numel(shape);
  // 64-byte aligned (AVX-512 loads, cache lines), never null; large blocks are recycled (core/allocator.h).
  const size_t bytes = static_cast<size_t>(t.numel_) * sizeof(float);
  void* p = nullptr;
  try {
    p = allocate_storage(bytes);
  } catch (const Error&) {
    throw Error(str("out of memory allocating a tensor of shape ", to_string(shape)));
  }
  t.storage_ = std::shared_ptr<float>(static_cast<float*>(p), [bytes](float* q) { free_storage(q, bytes); });
  return t;
}

Tensor Tensor::zeros(const Shape& shape) { return full(shape, 0.0f); }

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from(const std::vector<float>& values, const Shape& shape) {
  Tensor t = empty(shape);
  CXR_CHECK(static_cast<int64_t>(values.size()) == t.numel_, "Tensor::from: ", values.size(),
            " values do not fill shape ", to_string(shape));
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  CXR_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for shape ", to_string(shape_));
  return shape_[d];
}

static int64_t flat_index(const Shape& shape, std::initializer_list<int64_t> idx) {
  CXR_CHECK(idx.size() == shape.size(), "index of ", idx.size(), " values for shape ", to_string(shape));
  int64_t flat = 0, d = 0;
  for (int64_t i : idx) {
    CXR_CHECK(i >= 0 && i < shape[d], "index ", i, " out of range in dimension ", d, " of ", to_string(shape));
    flat = flat * shape[d] + i;
    ++d;
  }
  return flat;
}

float& Tensor::at(std::initializer_list<int64_t> idx) { return data()[flat_index(shape_, idx)]; }
float Tensor::at(std::initializer_list<int64_t> idx) const { return data()[flat_index(shape_, idx)]; }

float Tensor::item() const {
  CXR_CHECK(defined() && numel_ == 1, "item() needs a one-element tensor, got ", to_string(shape_));
  return data()[0];
}

Tensor Tensor::reshape(const Shape& shape) const {
  CXR_CHECK(defined(), "reshape of an undefined tensor");
  Shape s = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      CXR_CHECK(infer < 0, "reshape ", to_string(shape_), " -> ", to_string(shape), ": more than one -1");
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    CXR_CHECK(known > 0 && numel_ % known == 0, "cannot reshape ", to_string(shape_), " to ", to_string(shape));
    s[infer] = numel_ / known;
  }
  validate(s);
  CXR_CHECK(cxr::numel(s) == numel_, "cannot reshape ", to_string(shape_), " (", numel_, " elements) to ",
            to_string(shape));
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  CXR_CHECK(dim() >= 1, "slice of a scalar tensor");
  CXR_CHECK(0 <= begin && begin <= end && end <= shape_[0], "slice [", begin, ", ", end, ") out of range for ",
            to_string(shape_));
  int64_t row = shape_[0] ? numel_ / shape_[0] : 0;
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.numel_ = row * (end - begin);
  t.offset_ = offset_ + row * begin;
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  Tensor t = empty(shape_);
  std::memcpy(t.data(), data(), sizeof(float) * numel_);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  CXR_CHECK(src.numel() == numel_, "copy_from: ", to_string(src.shape()), " into ", to_string(shape_));
  if (numel_) std::memmove(data(), src.data(), sizeof(float) * numel_);
}

void Tensor::fill(float v) { std::fill(data(), data() + numel_, v); }

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  CXR_CHECK(a.shape() == b.shape(), what, ": shape mismatch ", to_string(a.shape()), " vs ", to_string(b.shape()));
}

void check_dims(const Tensor& t, int64_t dims, const char* what) {
  CXR_CHECK(t.defined(), what, ": undefined tensor");
  CXR_CHECK(t.dim() == dims, what, ": expected a ", dims, "-d tensor, got ", to_string(t.shape()));
}

}  // namespace cxr
