// SeedCNN: the small Keras-style CNN of the project's seed notebook, the baseline VGG is compared with.
// Three conv blocks and two dense layers, named torch-style like VGG so hooks, Grad-CAM and checkpoints
// treat it alike (widths scale with ModelConfig.width, batch norm is optional):
//
//   features:   Conv2d(C, 32, 3, pad 1) [+BN] + ReLU + MaxPool2d(2, 2)       features.0 .. 2 (conv1_1, relu1_1, pool1)
//               Conv2d(32, 64, 3, pad 1) [+BN] + ReLU + MaxPool2d(2, 2)      features.3 .. 5
//               Conv2d(64, 128, 3, pad 1) [+BN] + ReLU + MaxPool2d(2, 2)     features.6 .. 8 (conv3_1, relu3_1, pool3)
//   (no avgpool) flatten: 128 x S/8 x S/8
//   classifier: Linear(128 * (S/8)^2, 128), ReLU, Dropout, Linear(128, K)
//
// The notebook's Keras convolutions were 3x3; padding 1 ("same") keeps every size a clean S/2^k. Because
// the flattened size depends on S, this head only accepts inputs of exactly input_size x input_size. The
// "gap"/"gap256" heads (global average pool) accept any multiple of 32 as VGG does.
#pragma once
#include "models/model.h"

namespace cxr {

class SeedCNN : public Model {
 public:
  explicit SeedCNN(const ModelConfig& c);
  std::string type() const override { return "SeedCNN"; }
  void check_input(const Shape& x) const override;
};

}  // namespace cxr
