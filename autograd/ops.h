// Basic differentiable arithmetic on Variables. Each op's forward and backward sit side by side in
// ops.cpp. Neural-network ops (conv, pooling, losses...) live in layers/.
#pragma once
#include "autograd/variable.h"

namespace cxr {

Variable add(const Variable& a, const Variable& b);  // same shapes
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);  // elementwise
Variable scale(const Variable& a, float s);          // s * a
Variable sum(const Variable& a);                     // scalar
Variable mean(const Variable& a);                    // scalar
Variable reshape(const Variable& a, const Shape& shape);
// Column `index` of every row of a [N, K] value, as [N]: e.g. the class-c scores y_c for Grad-CAM.
Variable select_column(const Variable& a, int64_t index);

}  // namespace cxr
