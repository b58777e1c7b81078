#include "models/vgg.h"

namespace cxr {

const std::vector<int>& vgg_layout(const std::string& arch) {
  static const std::vector<int> A = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  static const std::vector<int> B = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  static const std::vector<int> D = {64,  64,  0,   128, 128, 0,   256, 256, 256,
                                     0,   512, 512, 512, 0,   512, 512, 512, 0};
  static const std::vector<int> E = {64,  64,  0,   128, 128, 0,   256, 256, 256, 256, 0,
                                     512, 512, 512, 512, 0,   512, 512, 512, 512, 0};
  if (arch == "vgg11") return A;
  if (arch == "vgg13") return B;
  if (arch == "vgg16") return D;
  if (arch == "vgg19") return E;
  throw Error(str("vgg_layout: '", arch, "' is not a VGG arch (vgg11, vgg13, vgg16, vgg19)"));
}

VGG::VGG(const ModelConfig& c) : Model(c) {
  // One generator, used in layer order as torchvision's _initialize_weights walks modules(): features
  // first, then the classifier. (The numbers differ from PyTorch's generator; the distributions do not.)
  Rng rng(c.seed);
  auto features = std::make_shared<Sequential>();
  int channels = c.in_channels;
  for (int v : vgg_layout(c.arch)) {
    if (v == 0) {
      features->add(std::make_shared<MaxPool2d>(2, 2));
      continue;
    }
    const int out = scaled_channels(v, c.width);
    features->add(std::make_shared<Conv2d>(channels, out, 3, 1, 1, /*bias=*/true, rng));
    if (c.batch_norm) features->add(std::make_shared<BatchNorm2d>(out));
    features->add(std::make_shared<ReLU>(/*inplace=*/true));
    channels = out;
  }

  auto classifier = std::make_shared<Sequential>();
  std::shared_ptr<AdaptiveAvgPool2d> pool;
  if (c.head == "torchvision") {
    const int hidden = scaled_channels(4096, c.width);
    pool = std::make_shared<AdaptiveAvgPool2d>(7, 7);
    classifier->add(std::make_shared<Linear>(channels * 7 * 7, hidden, rng));
    classifier->add(std::make_shared<ReLU>(/*inplace=*/true));
    classifier->add(std::make_shared<Dropout>(c.dropout, dropout_seed(0)));
    classifier->add(std::make_shared<Linear>(hidden, hidden, rng));
    classifier->add(std::make_shared<ReLU>(/*inplace=*/true));
    classifier->add(std::make_shared<Dropout>(c.dropout, dropout_seed(1)));
    classifier->add(std::make_shared<Linear>(hidden, c.num_classes, rng));
  } else {
    pool = build_gap_head(*classifier, channels, rng);
  }
  set_parts(features, pool, classifier);
}

}  // namespace cxr
