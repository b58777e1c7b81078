// Reference solution of exercise 2.
#include <cstdint>
#include <vector>

#include "exercises/leaky_relu.h"

namespace cxr::exercises {

Variable leaky_relu(const Variable& x, float slope) {
  const Tensor& in = x.data();
  const int64_t n = in.numel();
  Tensor out = Tensor::empty(in.shape());
  // One bit per element, 64 to a word: n/8 bytes where keeping x would hold 4n.
  std::vector<uint64_t> positive(static_cast<size_t>((n + 63) / 64), 0);
  for (int64_t i = 0; i < n; ++i) {
    const float v = in[i];
    if (v > 0) {
      out[i] = v;
      positive[static_cast<size_t>(i / 64)] |= uint64_t{1} << (i % 64);
    } else {
      out[i] = slope * v;
    }
  }
  return Variable::make(out, {x}, [mask = std::move(positive), slope](const Tensor& g, std::vector<Variable>& inputs) {
    Tensor gx = Tensor::empty(g.shape());
    for (int64_t i = 0; i < g.numel(); ++i)
      gx[i] = (mask[static_cast<size_t>(i / 64)] >> (i % 64)) & 1 ? g[i] : slope * g[i];
    inputs[0].accumulate_grad(gx);
  }, "leaky_relu");
}

}  // namespace cxr::exercises
