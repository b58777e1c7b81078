// Guided backpropagation and guided Grad-CAM (Springenberg et al. 2015; Selvaraju et al. 2017, section 3).
//
// Guided backprop is the gradient of the class score y_c with respect to the INPUT image, where every ReLU's
// backward passes a gradient only where its input was positive (the plain ReLU rule) AND the incoming
// gradient is positive: only features that increase y_c, sharply at pixel resolution but not class-
// discriminative. Guided Grad-CAM multiplies it by the (class-discriminative, coarse) Grad-CAM map upsampled
// to the input.
#pragma once
#include <vector>

#include "core/tensor.h"
#include "explain/maps.h"
#include "models/model.h"

namespace cxr {

// While alive, relu's backward on this thread runs in guided mode (layers/activation.h); restores the
// previous mode on destruction, also when an exception passes.
class GuidedReluGuard {
 public:
  explicit GuidedReluGuard(bool on = true);
  ~GuidedReluGuard();
  GuidedReluGuard(const GuidedReluGuard&) = delete;
  GuidedReluGuard& operator=(const GuidedReluGuard&) = delete;

 private:
  bool saved_;
};

// dy_c/dinput for a batch [N, C, S, S], through guided ReLUs (guided = false: the plain input gradient,
// "vanilla saliency"). classes as in capture(): empty = each image's predicted class (one result), else one
// [N, C, S, S] result per class. No weight gradient is computed.
std::vector<Tensor> guided_backprop(Model& model, const Tensor& batch, const std::vector<int>& classes = {},
                                    bool guided = true);

// Guided Grad-CAM for one image: guided gradient [C, S, S] x map [h, w] (in [0, 1]) upsampled to S x S.
Tensor guided_gradcam(const Tensor& guided, const Tensor& map, Upsample mode = Upsample::Bilinear);

// Per-pixel strength of an input-resolution explanation (guided gradient, guided Grad-CAM): max |value|
// over channels. [C, S, S] -> [S, S].
Tensor guided_saliency(const Tensor& guided);

// For display: (g - mean) / (std + 1e-5) * 0.1 + 0.5, clipped to [0, 1] (over all channels together), so
// zero gradient is mid-grey and the sign shows as lighter / darker. [C, S, S] -> [C, S, S].
Tensor deprocess_gradient(const Tensor& g);

}  // namespace cxr
