// Exercise 1 (docs/EXERCISES.md, one star): the logistic sigmoid as an autograd op.
#pragma once
#include "autograd/variable.h"

namespace cxr::exercises {

// sigmoid(x) = 1 / (1 + exp(-x)), elementwise, any shape.
// Its derivative is s (1 - s) with s = sigmoid(x): backward needs the OUTPUT only, so the closure must keep
// the output tensor and not x. The grader checks which storage the recorded closure holds, because keeping
// x (and recomputing exp) would cost the same memory and more time.
Variable sigmoid(const Variable& x);

}  // namespace cxr::exercises
