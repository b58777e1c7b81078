// The network and inputs of the PyTorch parity fixture (tests/fixtures/parity.bin, written by
// tests/fixtures/make_fixtures.py): a small VGG-style network of cxr modules loaded with the weights torch
// started from, and the loss of its batch. Shared by tests/test_parity.cpp and the SGD-momentum exercise
// (exercises/tests/test_sgd_momentum.cpp), so both check against the same PyTorch run. Needs
// CXR_FIXTURE_DIR.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "fixture_reader.h"
#include "layers/loss.h"
#include "layers/modules.h"

namespace cxr::testing {

inline const Fixture& fixture() {
  static Fixture f(std::string(CXR_FIXTURE_DIR) + "/parity.bin");
  return f;
}

class TinyVGG : public Module {
 public:
  explicit TinyVGG(Rng& rng) {
    features = std::make_shared<Sequential>();
    features->add(std::make_shared<Conv2d>(3, 8, 3, 1, 1, true, rng));
    features->add(std::make_shared<BatchNorm2d>(8));
    features->add(std::make_shared<ReLU>());
    features->add(std::make_shared<MaxPool2d>(2, 2));
    features->add(std::make_shared<Conv2d>(8, 16, 3, 1, 1, true, rng));
    features->add(std::make_shared<BatchNorm2d>(16));
    features->add(std::make_shared<ReLU>());
    features->add(std::make_shared<MaxPool2d>(2, 2));
    avgpool = std::make_shared<AdaptiveAvgPool2d>(2, 2);
    classifier = std::make_shared<Sequential>();
    classifier->add(std::make_shared<Linear>(64, 32, rng));
    classifier->add(std::make_shared<ReLU>());
    classifier->add(std::make_shared<Dropout>(0.0f, 1));
    classifier->add(std::make_shared<Linear>(32, 3, rng));
    register_module("features", features);
    register_module("avgpool", avgpool);
    register_module("classifier", classifier);
  }
  Variable forward(const Variable& x) override { return (*classifier)(flatten((*avgpool)((*features)(x)))); }
  std::string type() const override { return "TinyVGG"; }

  std::shared_ptr<Sequential> features, classifier;
  std::shared_ptr<AdaptiveAvgPool2d> avgpool;
};

// One fixture case ("sq" or "ns"): the input, loss options and a network loaded with the start weights.
struct Case {
  std::string prefix;
  Tensor x;
  std::vector<int> targets;
  CrossEntropyOptions ce;

  explicit Case(const std::string& p) : prefix(p) {
    const Fixture& f = fixture();
    x = f[p + ".x"];
    const Tensor& t = f[p + ".targets"];
    for (int64_t i = 0; i < t.numel(); ++i) targets.push_back(static_cast<int>(t[i]));
    const Tensor& w = f[p + ".class_weights"];
    for (int64_t i = 0; i < w.numel(); ++i) ce.class_weights.push_back(w[i]);
    ce.label_smoothing = f[p + ".label_smoothing"][0];
  }

  std::unique_ptr<TinyVGG> network() const {
    Rng rng(1);
    auto net = std::make_unique<TinyVGG>(rng);
    const Fixture& f = fixture();
    for (auto& [name, v] : net->named_parameters()) {
      const Tensor& src = f[prefix + ".w." + name];
      EXPECT_EQ(src.shape(), v->shape()) << name;
      v->data().copy_from(src);
    }
    for (auto& [name, t] : net->named_buffers()) {
      const Tensor& src = f[prefix + ".w." + name];
      EXPECT_EQ(src.numel(), t->numel()) << name;  // num_batches_tracked: torch's 0-dim, our [1]
      t->copy_from(src);
    }
    return net;
  }

  Variable loss(TinyVGG& net, Variable* logits = nullptr) const {
    Variable y = net(Variable(x));
    if (logits) *logits = y;
    return cross_entropy(y, targets, ce);
  }
};

// A conv bias directly followed by batch-norm: its gradient is 0 up to rounding (see the top).
inline bool bias_before_batchnorm(const std::string& name) {
  return name == "features.0.bias" || name == "features.4.bias";
}

}  // namespace cxr::testing
