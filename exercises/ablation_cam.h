// Exercise 7 (docs/EXERCISES.md, two stars): a new CAM weighting, Ablation-CAM.
#pragma once
#include <functional>

#include "core/tensor.h"

namespace cxr::exercises {

// Ablation-CAM (Ramaswamy & Desai, WACV 2020) for one image. A [C, h, w] is the target layer's activation
// and head(A') the class score y_c that the rest of the network computes from an activation A' of that
// shape (for a real network: the layers above the target, then the logit of class c). Channel k's weight
// is the share of the score lost when that channel is switched off:
//   w_k = (y_c - y_c^k) / y_c,   y_c = head(A),   y_c^k = head(A with channel k set to 0)
// and the raw map is sum_k w_k A_k, [h, w], signed (explain/'s maps are ReLU'd and scaled only for display).
// No gradients: C + 1 calls of head. A must be left as it was; y_c == 0 is a cxr::Error saying "score".
struct AblationCam {
  Tensor weights;  // [C]
  Tensor raw;      // [h, w]
};
AblationCam ablation_cam(const Tensor& A, const std::function<float(const Tensor&)>& head);

}  // namespace cxr::exercises
