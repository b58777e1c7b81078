#include "layers/im2col.h"

#include <algorithm>
#include <cstring>

namespace cxr {

namespace {

// For kernel column j, the output columns ow whose input column iw = ow*sw - pw + j lies inside [0, W):
// ow in [lo, hi). Computed once per kernel column so the pixel loops carry no division and no bounds test.
struct ColRange {
  int64_t lo, hi;
};

int64_t ceil_div_nonneg(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

ColRange valid_cols(const ConvGeometry& g, int64_t j) {
  int64_t lo = std::min(ceil_div_nonneg(g.pw - j, g.sw), g.Wo);
  int64_t hi = std::min(ceil_div_nonneg(g.W + g.pw - j, g.sw), g.Wo);
  return {lo, std::max(lo, hi)};
}

// One row of cols (kernel offset (i, j) of channel plane xc) for output rows [oh0, oh1).
void im2col_row(const float* xc, const ConvGeometry& g, int64_t i, int64_t j, int64_t oh0, int64_t oh1,
                float* dst) {
  const ColRange r = valid_cols(g, j);
  const int64_t Wo = g.Wo, n = r.hi - r.lo;
  for (int64_t oh = oh0; oh < oh1; ++oh, dst += Wo) {
    const int64_t ih = oh * g.sh - g.ph + i;
    if (ih < 0 || ih >= g.H || n == 0) {
      std::memset(dst, 0, Wo * sizeof(float));
      continue;
    }
    const float* src = xc + ih * g.W + (r.lo * g.sw - g.pw + j);
    if (r.lo > 0) std::memset(dst, 0, r.lo * sizeof(float));
    if (g.sw == 1) {
      std::memcpy(dst + r.lo, src, n * sizeof(float));  // stride 1: a contiguous segment of the input row
    } else {
      float* d = dst + r.lo;
      const int64_t s = g.sw;
      for (int64_t k = 0; k < n; ++k) d[k] = src[k * s];
    }
    if (r.hi < Wo) std::memset(dst + r.hi, 0, (Wo - r.hi) * sizeof(float));
  }
}

// The adjoint of im2col_row: adds the row back into the channel plane.
void col2im_row(const float* src, const ConvGeometry& g, int64_t i, int64_t j, int64_t oh0, int64_t oh1,
                float* xc) {
  const ColRange r = valid_cols(g, j);
  const int64_t Wo = g.Wo, n = r.hi - r.lo;
  if (n == 0) return;
  for (int64_t oh = oh0; oh < oh1; ++oh, src += Wo) {
    const int64_t ih = oh * g.sh - g.ph + i;
    if (ih < 0 || ih >= g.H) continue;
    float* d = xc + ih * g.W + (r.lo * g.sw - g.pw + j);
    const float* s = src + r.lo;
    if (g.sw == 1) {
      for (int64_t k = 0; k < n; ++k) d[k] += s[k];
    } else {
      const int64_t st = g.sw;
      for (int64_t k = 0; k < n; ++k) d[k * st] += s[k];
    }
  }
}

}  // namespace

void im2col(const float* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* cols) {
  const int64_t band = (oh1 - oh0) * g.Wo, plane = g.H * g.W;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j, cols += band) im2col_row(x + c * plane, g, i, j, oh0, oh1, cols);
}

void col2im(const float* cols, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* x) {
  const int64_t band = (oh1 - oh0) * g.Wo, plane = g.H * g.W;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j, cols += band) col2im_row(cols, g, i, j, oh0, oh1, x + c * plane);
}

}  // namespace cxr
