// Reference solution of exercise 5: the definition, one element at a time (layers/im2col.cpp shows the
// fast way, whole segments of a row at once).
#include "exercises/im2col_dilated.h"

namespace cxr::exercises {

void im2col_dilated(const float* x, const DilatedGeometry& g, float* cols) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t oh = 0; oh < g.Ho; ++oh)
          for (int64_t ow = 0; ow < g.Wo; ++ow, ++cols) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
            const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            *cols = inside ? x[(c * g.H + ih) * g.W + iw] : 0.0f;
          }
}

}  // namespace cxr::exercises
