// conv2d: 2-D convolution (cross-correlation, as PyTorch) by im2col + SGEMM.
//
//   x [N, C, H, W], weight [K, C, kh, kw], bias [K] or undefined  ->  y [N, K, Ho, Wo]
//   Ho = (H + 2*pad_h - kh) / stride_h + 1, likewise Wo.
// Forward: per image, im2col(x) -> cols [C*kh*kw, Ho*Wo]; y = W[K, C*kh*kw] * cols (+ bias).
// Backward-data: dcols = W^T * dy, then col2im adds dcols into dx. Backward-weight: dW += dy * cols^T,
// with cols recomputed from x rather than stored. The cols buffer is the shared workspace (core/workspace.h).
// Only the gradients that are needed are computed (no dx for the input image, no dW for a frozen weight).
#pragma once
#include "autograd/variable.h"

namespace cxr {

struct Conv2dOptions {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
};

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, Conv2dOptions opt = {});

// Whether conv2d splits a batch of N images over the threads (one image per thread, single-threaded
// SGEMM inside) rather than running the images one by one with every thread in SGEMM: at least as many
// images as threads, and more than one thread (conv2d.cpp says why). Benchmarks of SGEMM alone
// (train/throughput.h) split their products the same way.
bool parallel_over_images(int64_t N);

// Output size of one spatial dimension.
inline int64_t conv_out_size(int64_t in, int64_t k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }

}  // namespace cxr
