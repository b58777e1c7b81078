// Reference solution of exercise 1 (built instead of exercises/sigmoid.cpp with CXR_EXERCISE_SOLUTIONS).
#include <cmath>

#include "exercises/sigmoid.h"

namespace cxr::exercises {

Variable sigmoid(const Variable& x) {
  const Tensor& in = x.data();
  Tensor out = Tensor::empty(in.shape());
  // The two branches keep exp's argument <= 0, so no exp overflows to inf for large |x|.
  for (int64_t i = 0; i < in.numel(); ++i) {
    const float v = in[i];
    if (v >= 0) {
      out[i] = 1.0f / (1.0f + std::exp(-v));
    } else {
      const float e = std::exp(v);
      out[i] = e / (1.0f + e);
    }
  }
  // The closure shares the output's storage: no copy, and x may be freed once nothing else needs it.
  return Variable::make(out, {x}, [s = out](const Tensor& g, std::vector<Variable>& inputs) {
    Tensor gx = Tensor::empty(s.shape());
    for (int64_t i = 0; i < s.numel(); ++i) gx[i] = g[i] * s[i] * (1.0f - s[i]);
    inputs[0].accumulate_grad(gx);
  }, "sigmoid");
}

}  // namespace cxr::exercises
