// Tensor: a contiguous float32 array with a shape of up to 5 dimensions, on 64-byte aligned storage.
//
// Copies are cheap: a Tensor is a handle, and copies share storage (like torch.Tensor). reshape() and
// slice() return views of the same storage; clone() makes a deep copy. Every shape error throws
// cxr::Error with the shapes in its message.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/shape.h"

namespace cxr {

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false

  static Tensor empty(const Shape& shape);  // uninitialised contents
  static Tensor zeros(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor from(const std::vector<float>& values, const Shape& shape);
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape()); }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return numel_; }

  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }
  float& operator[](int64_t i) { return data()[i]; }
  float operator[](int64_t i) const { return data()[i]; }
  // Element at a full multi-index, bounds-checked (for tests and teaching, not for hot loops).
  float& at(std::initializer_list<int64_t> idx);
  float at(std::initializer_list<int64_t> idx) const;
  float item() const;  // the single value of a one-element tensor

  Tensor reshape(const Shape& shape) const;           // view; one size may be -1
  Tensor slice(int64_t begin, int64_t end) const;     // view of rows [begin, end) along dim 0
  Tensor clone() const;                               // deep copy
  void copy_from(const Tensor& src);                  // same numel required
  void fill(float v);
  void zero() { fill(0.0f); }

  bool shares_storage_with(const Tensor& o) const { return storage_ == o.storage_; }
  bool storage_unique() const { return storage_.use_count() == 1; }

 private:
  std::shared_ptr<float> storage_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
  Shape shape_;
};

// Throws unless a and b have the same shape; `what` names the operation in the message.
void check_same_shape(const Tensor& a, const Tensor& b, const char* what);
// Throws unless t has exactly `dims` dimensions.
void check_dims(const Tensor& t, int64_t dims, const char* what);

}  // namespace cxr
