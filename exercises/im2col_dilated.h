// Exercise 5 (docs/EXERCISES.md, three stars): im2col with stride and dilation.
#pragma once
#include <cstdint>

namespace cxr::exercises {

// layers/im2col.h's geometry plus a dilation (dh, dw): kernel taps dh rows and dw columns apart, so a
// 3 x 3 kernel with dilation 2 covers 5 x 5 pixels (PyTorch's Conv2d(dilation=2)).
struct DilatedGeometry {
  int64_t C, H, W;  // input channels and size
  int64_t kh, kw;   // kernel
  int64_t sh, sw;   // stride
  int64_t ph, pw;   // zero padding
  int64_t dh, dw;   // dilation (1: the ordinary convolution)
  int64_t Ho, Wo;   // output size: dilated_out_size below
  int64_t col_rows() const { return C * kh * kw; }
};

// PyTorch's output size: the kernel spans d*(k-1)+1 input pixels.
inline int64_t dilated_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

// One image x [C, H, W] -> cols [C*kh*kw, Ho*Wo], row-major: row r = (c, i, j) (r = (c*kh + i)*kw + j),
// column (oh, ow) (= oh*Wo + ow) holds x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw], 0 outside the image.
// Then W [K, C*kh*kw] * cols is the convolution's output [K, Ho*Wo], what the grader checks against a
// direct seven-loop convolution.
void im2col_dilated(const float* x, const DilatedGeometry& g, float* cols);

}  // namespace cxr::exercises
