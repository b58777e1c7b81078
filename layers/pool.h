// Pooling over [N, C, H, W]: max-pool (remembers the argmax of each window for backward), average pool,
// and adaptive average pool (PyTorch's start = floor(i*H/Ho), end = ceil((i+1)*H/Ho) windows).
#pragma once
#include "autograd/variable.h"

namespace cxr {

Variable max_pool2d(const Variable& x, int kernel, int stride, int pad = 0);
Variable avg_pool2d(const Variable& x, int kernel, int stride, int pad = 0);  // count_include_pad=True
Variable adaptive_avg_pool2d(const Variable& x, int out_h, int out_w);

}  // namespace cxr
