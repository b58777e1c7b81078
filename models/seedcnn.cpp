#include "models/seedcnn.h"

namespace cxr {

SeedCNN::SeedCNN(const ModelConfig& c) : Model(c) {
  Rng rng(c.seed);
  auto features = std::make_shared<Sequential>();
  int channels = c.in_channels;
  for (int v : {32, 64, 128}) {
    const int out = scaled_channels(v, c.width);
    features->add(std::make_shared<Conv2d>(channels, out, 3, 1, 1, /*bias=*/true, rng));
    if (c.batch_norm) features->add(std::make_shared<BatchNorm2d>(out));
    features->add(std::make_shared<ReLU>(/*inplace=*/true));
    features->add(std::make_shared<MaxPool2d>(2, 2));
    channels = out;
  }

  auto classifier = std::make_shared<Sequential>();
  std::shared_ptr<AdaptiveAvgPool2d> pool;  // none for the notebook's flatten head
  if (c.head == "torchvision") {
    const int side = c.input_size / 8;
    const int hidden = scaled_channels(128, c.width);
    classifier->add(std::make_shared<Linear>(channels * side * side, hidden, rng));
    classifier->add(std::make_shared<ReLU>(/*inplace=*/true));
    classifier->add(std::make_shared<Dropout>(c.dropout, dropout_seed(0)));
    classifier->add(std::make_shared<Linear>(hidden, c.num_classes, rng));
  } else {
    pool = build_gap_head(*classifier, channels, rng);
  }
  set_parts(features, pool, classifier);
}

void SeedCNN::check_input(const Shape& x) const {
  Model::check_input(x);
  if (config().head != "torchvision") return;
  CXR_CHECK(x[2] == config().input_size && x[3] == config().input_size, name(), ": input ", to_string(x),
            ": the flatten head was built for ", config().input_size, "x", config().input_size,
            " inputs (the first linear's size depends on it); resize, or use --head gap");
}

}  // namespace cxr
