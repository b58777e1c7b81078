// Parameter initialisers, as torchvision initialises VGG:
//   conv weights: Kaiming normal, fan_out, ReLU gain (std = sqrt(2 / (out_channels * kh * kw)));
//   linear weights: normal(0, 0.01); biases: zeros; batch-norm: weight 1, bias 0.
#pragma once
#include "core/rng.h"
#include "core/tensor.h"

namespace cxr {

void normal_(Tensor& t, float mean, float stddev, Rng& rng);
void uniform_(Tensor& t, float lo, float hi, Rng& rng);
// For a weight of shape [out, in, kh, kw] (or [out, in]): std = sqrt(2 / (out * kh * kw)).
void kaiming_normal_fan_out_(Tensor& w, Rng& rng);

}  // namespace cxr
