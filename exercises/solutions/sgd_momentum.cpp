// Reference solution of exercise 6.
#include "exercises/sgd_momentum.h"

namespace cxr::exercises {

void sgd_momentum_step(Tensor& p, const Tensor& grad, Tensor& buf, float lr, float momentum, float weight_decay) {
  check_same_shape(p, grad, "sgd_momentum_step");
  // PyTorch starts the buffer at the first step's d (not at zero times momentum: with dampening 0 both give
  // d, but the buffer must exist only from the first step on).
  const bool first = !buf.defined();
  if (first) buf = Tensor::empty(p.shape());
  for (int64_t i = 0; i < p.numel(); ++i) {
    const float d = grad[i] + weight_decay * p[i];  // weight decay first: it goes into the momentum too
    buf[i] = first ? d : momentum * buf[i] + d;
    p[i] -= lr * buf[i];
  }
}

}  // namespace cxr::exercises
