// VGG (Simonyan & Zisserman 2014), built exactly as torchvision.models.vgg builds it, so the parameter names,
// shapes, layer indices and initialisation match and checkpoints interoperate:
//
//   features:   for each entry v of the arch's configuration (A = vgg11, B = vgg13, D = vgg16, E = vgg19):
//                 v = channels: Conv2d(in, v, 3, padding 1) [+ BatchNorm2d(v)] + ReLU
//                 v = 'M':      MaxPool2d(2, 2)
//   avgpool:    AdaptiveAvgPool2d(7, 7)
//   classifier: Linear(512*7*7, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, K)
//
// so vgg16's last conv block is features.28 (conv5_3), .29 (relu5_3), .30 (pool5); with batch norm
// features.40 (conv5_3), .41 (bn5_3), .42 (relu5_3), .43 (pool5). Initialisation (by the layer
// constructors): conv Kaiming-normal fan_out, linear N(0, 0.01), biases 0, batch-norm weight 1 / bias 0.
//
// ModelConfig.width scales every channel count and the 4096 hidden width (see models/model.h); the "gap" and
// "gap256" heads replace avgpool/classifier with global average pooling and one or two linears.
#pragma once
#include <vector>

#include "models/model.h"

namespace cxr {

// The torchvision configuration of an arch: output channels of each conv, 0 for a max-pool ('M').
// vgg16 -> {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}.
const std::vector<int>& vgg_layout(const std::string& arch);

class VGG : public Model {
 public:
  explicit VGG(const ModelConfig& c);
  std::string type() const override { return "VGG"; }
};

}  // namespace cxr
