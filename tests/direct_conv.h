// The direct definition of a 2-D convolution, seven nested loops in double: the reference that the im2col +
// GEMM convolution (tests/test_conv.cpp) and the exercise on dilated im2col (exercises/tests) are checked
// against. Slow on purpose: every index is written out as the formula, nothing is reused.
//   y[n,k,oh,ow] = b[k] + sum_{c,i,j} W[k,c,i,j] * x[n,c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
// Its adjoint gives the references for the gradients: every product term w*x that contributes to y with
// weight dy contributes dy*w to dx and dy*x to dW.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace cxr::testing {

struct ConvDims {
  int64_t N, C, H, W, K, kh, kw;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t Ho() const { return (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t Wo() const { return (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

struct ConvReference {
  std::vector<double> y, dx, dw, db;
};

// x [N, C, H, W], w [K, C, kh, kw], b [K] or undefined (no bias), dy [N, K, Ho, Wo] or undefined (then the
// gradients are those of dy = 0).
inline ConvReference direct_convolution(const ConvDims& d, const Tensor& x, const Tensor& w, const Tensor& b,
                                        const Tensor& dy) {
  const int64_t Ho = d.Ho(), Wo = d.Wo();
  ConvReference r;
  r.y.assign(d.N * d.K * Ho * Wo, 0.0);
  r.dx.assign(x.numel(), 0.0);
  r.dw.assign(w.numel(), 0.0);
  r.db.assign(d.K, 0.0);
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t k = 0; k < d.K; ++k)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t yi = ((n * d.K + k) * Ho + oh) * Wo + ow;
          const double g = dy.defined() ? dy[yi] : 0.0;
          double acc = b.defined() ? b[k] : 0.0;
          r.db[k] += g;
          for (int64_t ci = 0; ci < d.C; ++ci)
            for (int64_t i = 0; i < d.kh; ++i)
              for (int64_t j = 0; j < d.kw; ++j) {
                const int64_t ih = oh * d.sh - d.ph + i * d.dh, iw = ow * d.sw - d.pw + j * d.dw;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                const int64_t xi = ((n * d.C + ci) * d.H + ih) * d.W + iw;
                const int64_t wi = ((k * d.C + ci) * d.kh + i) * d.kw + j;
                acc += double(w[wi]) * x[xi];
                r.dx[xi] += g * w[wi];
                r.dw[wi] += g * x[xi];
              }
          r.y[yi] = acc;
        }
  return r;
}

}  // namespace cxr::testing
