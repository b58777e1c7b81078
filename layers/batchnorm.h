// batch_norm2d over [N, C, H, W], as torch.nn.BatchNorm2d:
//  training: normalise with the batch mean and biased variance; update running stats with
//    running = (1 - momentum) * running + momentum * batch (running_var uses the unbiased variance);
//  eval: normalise with the running stats.
//  sync (data parallel, torch.nn.SyncBatchNorm): given `across`, a function that sums doubles over every
//    replica of the model (each holding part of the batch), training uses the mean and variance of the
//    whole batch, and backward sums its two per-channel terms over the replicas too, so the replicas
//    compute together what one process computes with the whole batch. The gradients of the loss that
//    reach the replicas must then be in the same units: each replica's loss its share of the whole
//    batch's (the trainer scales it so). Every replica calls `across` at the same points, in the same order.
#pragma once
#include <functional>

#include "autograd/variable.h"

namespace cxr {

struct BatchNormState {
  Tensor running_mean;           // [C]
  Tensor running_var;            // [C]
  int64_t num_batches_tracked = 0;
};

using ReplicaSum = std::function<void(double* values, int64_t n)>;

Variable batch_norm2d(const Variable& x, const Variable& weight, const Variable& bias, BatchNormState& state,
                      bool training, float momentum = 0.1f, float eps = 1e-5f, const ReplicaSum& across = {});

}  // namespace cxr
