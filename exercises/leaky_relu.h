// Exercise 2 (docs/EXERCISES.md, two stars): leaky ReLU whose backward keeps a bit mask.
#pragma once
#include "autograd/variable.h"

namespace cxr::exercises {

// leaky_relu(x) = x where x > 0, slope * x elsewhere (at 0 the slope side), elementwise, any shape.
// Backward multiplies the incoming gradient by 1 or by slope, so all it needs is one bit per element:
// where x > 0. The closure must keep that mask and neither x nor the output: the grader checks that no
// tensor storage is shared with the closure and that recording the op costs at most the output plus
// one bit per element (plus a little bookkeeping), i.e. 32x less than keeping x.
Variable leaky_relu(const Variable& x, float slope = 0.01f);

}  // namespace cxr::exercises
