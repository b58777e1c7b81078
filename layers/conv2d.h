// conv2d: 2-D convolution (cross-correlation, as PyTorch) by im2col + SGEMM, or by Winograd F(2x2, 3x3) for
// 3x3 stride-1 padding-1 kernels (layers/winograd.h; which one: layers/conv_algo.h, --conv).
//
//   x [N, C, H, W], weight [K, C, kh, kw], bias [K] or undefined  ->  y [N, K, Ho, Wo]
//   Ho = (H + 2*pad_h - kh) / stride_h + 1, likewise Wo.
// Forward: per image, im2col(x) -> cols [C*kh*kw, Ho*Wo]; y = W[K, C*kh*kw] * cols (+ bias).
// Backward-data: dcols = W^T * dy, then col2im adds dcols into dx. Backward-weight: dW += dy * cols^T,
// with cols recomputed from x rather than stored. The cols buffer is the shared workspace (core/workspace.h).
// Only the gradients that are needed are computed (no dx for the input image, no dW for a frozen weight).
// Winograd: forward and backward-data run it (backward-data as the convolution of dy with the rotated,
// transposed filter); the weight gradient stays im2col's dy * cols^T.
#pragma once
#include <optional>

#include "autograd/variable.h"
#include "layers/conv_algo.h"

namespace cxr {

struct Conv2dOptions {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  // The algorithm for this call, overriding the process-wide conv_algo(): im2col, winograd (exactly: any
  // channel count, and an error where the shape is not 3x3 / stride 1 / padding 1) or automatic.
  std::optional<ConvAlgo> algo = std::nullopt;
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
