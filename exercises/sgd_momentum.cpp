// The stub of exercise 6 (docs/EXERCISES.md).
#include "exercises/sgd_momentum.h"

namespace cxr::exercises {

void sgd_momentum_step(Tensor&, const Tensor&, Tensor&, float, float, float) {
  throw Error("TODO: exercise 6, sgd_momentum_step (docs/EXERCISES.md)");
}

}  // namespace cxr::exercises
