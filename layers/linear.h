// linear: y = x W^T + b for x [N, in], W [out, in], b [out] (PyTorch's nn.Linear layout).
// Batch 1 runs as SGEMV (about 3x faster than SGEMM for a single row).
#pragma once
#include "autograd/variable.h"

namespace cxr {

Variable linear(const Variable& x, const Variable& weight, const Variable& bias);

}  // namespace cxr
