#include "core/init.h"

#include <cmath>

namespace cxr {

void normal_(Tensor& t, float mean, float stddev, Rng& rng) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.normal(mean, stddev);
}

void uniform_(Tensor& t, float lo, float hi, Rng& rng) {
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(lo, hi);
}

void kaiming_normal_fan_out_(Tensor& w, Rng& rng) {
  CXR_CHECK(w.dim() >= 2, "kaiming_normal_fan_out_: weight must have at least 2 dims, got ", to_string(w.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  double fan_out = static_cast<double>(w.size(0)) * receptive;
  normal_(w, 0.0f, static_cast<float>(std::sqrt(2.0 / fan_out)), rng);
}

}  // namespace cxr
