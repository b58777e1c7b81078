// batch_norm2d over [N, C, H, W], as torch.nn.BatchNorm2d:
//  training: normalise with the batch mean and biased variance; update running stats with
//    running = (1 - momentum) * running + momentum * batch (running_var uses the unbiased variance);
//  eval: normalise with the running stats.
#pragma once
#include "autograd/variable.h"

namespace cxr {

struct BatchNormState {
  Tensor running_mean;           // [C]
  Tensor running_var;            // [C]
  int64_t num_batches_tracked = 0;
};

Variable batch_norm2d(const Variable& x, const Variable& weight, const Variable& bias, BatchNormState& state,
                      bool training, float momentum = 0.1f, float eps = 1e-5f);

}  // namespace cxr
