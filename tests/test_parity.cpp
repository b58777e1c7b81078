// PyTorch parity: a small VGG-style network built from cxr modules, loaded with the weights that
// tests/fixtures/make_fixtures.py dumped from torch 1.13, must reproduce PyTorch's logits, loss, every
// parameter gradient, the batch-norm running statistics, and the parameters and optimizer state after
// three steps of SGD, Nesterov SGD, Adam and AdamW.
//
// Error measure, per tensor: relative error = max|cxr - torch| / max(max|torch|, 1e-3), required <= 1e-4.
// The floor keeps tensors that are ~0 in PyTorch from dividing by nothing. One family of tensors is
// exactly 0 in exact arithmetic: the gradient of a conv bias that feeds a batch-norm (the batch mean
// removes it). Both frameworks give rounding noise of ~1e-7 there, so those are checked to be tiny
// (|g| < 1e-5) instead of equal.
//
// The optimizer steps are checked by what they move: after - before, relative to the size of that
// movement, not of the parameter. A parameter of size 1 moved by 3e-3 (three Adam steps) would hide any
// error of the step below 1e-4 / 3e-3 = 3% of it, and AdamW's decoupled decay (lr * wd * p = 1e-5 p a
// step) or SGD's weight decay is about 1% of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "layers/optim.h"
#include "parity_net.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

constexpr double kTol = 1e-4;

// Worst relative error seen per kind of tensor, printed at the end for the report.
std::map<std::string, std::pair<double, std::string>>& worst() {
  static std::map<std::string, std::pair<double, std::string>> w;
  return w;
}

void expect_close(const std::string& kind, const std::string& name, const Tensor& got, const Tensor& want,
                  double tol = kTol, double floor = 1e-3) {
  ASSERT_EQ(got.numel(), want.numel()) << name << ": " << to_string(got.shape()) << " vs " << to_string(want.shape());
  double err = relative_error(got, want, floor);
  EXPECT_LE(err, tol) << name;
  auto& w = worst()[kind];
  if (err >= w.first) w = {err, name};
}

// What the optimizer steps moved a parameter: after - before.
Tensor movement(const Tensor& after, const Tensor& before) {
  Tensor d = Tensor::empty(before.shape());
  for (int64_t i = 0; i < d.numel(); ++i) d[i] = after[i] - before[i];
  return d;
}

void check_grad(const std::string& param, const std::string& name, const Tensor& got, const Tensor& want) {
  if (bias_before_batchnorm(param)) {
    for (int64_t i = 0; i < got.numel(); ++i) {
      EXPECT_LT(std::abs(got[i]), 1e-5) << name << " should be ~0";
      EXPECT_LT(std::abs(want[i]), 1e-5) << name << " (torch) should be ~0";
    }
    return;
  }
  expect_close("gradients", name, got, want);
}

}  // namespace

TEST(Parity, NamesMatchPyTorchStateDict) {
  Rng rng(1);
  TinyVGG net(rng);
  std::set<std::string> ours, theirs;
  for (auto& [n, v] : net.named_parameters()) ours.insert(n);
  for (auto& [n, t] : net.named_buffers()) ours.insert(n);
  for (auto& [n, t] : fixture().all())
    if (n.starts_with("sq.w.")) theirs.insert(n.substr(5));
  EXPECT_EQ(ours, theirs);
  EXPECT_EQ(ours.size(), 18u);  // 4 conv/linear x 2 + 2 batch-norms x (2 params + 3 buffers)
}

class ParityCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityCase, ForwardLossGradientsAndRunningStats) {
  Case c(GetParam());
  const Fixture& f = fixture();
  const std::string& p = c.prefix;
  {
    auto net = c.network();
    net->eval();
    NoGradGuard ng;
    expect_close("eval logits", p + ".eval_logits", (*net)(Variable(c.x)).data(), f[p + ".eval_logits"]);
  }
  auto net = c.network();
  net->train();
  Variable logits;
  Variable loss = c.loss(*net, &logits);
  expect_close("logits", p + ".logits", logits.data(), f[p + ".logits"]);
  expect_close("loss", p + ".loss", loss.data(), f[p + ".loss"]);
  loss.backward();
  for (auto& [name, v] : net->named_parameters()) {
    ASSERT_TRUE(v->has_grad()) << name;
    check_grad(name, p + ".grad." + name, v->grad(), f[p + ".grad." + name]);
  }
  for (auto& [name, t] : net->named_buffers())
    expect_close("running stats", p + ".after." + name, *t, f[p + ".after." + name]);
}

TEST_P(ParityCase, ThreeOptimizerSteps) {
  Case c(GetParam());
  const Fixture& f = fixture();
  struct Run {
    std::string tag;
    std::function<std::unique_ptr<Optimizer>(NamedParameters)> make;
    std::vector<std::string> frozen;
  };
  std::vector<Run> runs{
      {"sgd", [](NamedParameters ps) {
         return std::make_unique<SGD>(ps, 0.05f, SGDOptions{.momentum = 0.9f, .weight_decay = 5e-4f});
       }, {}},
      {"sgdn", [](NamedParameters ps) {
         return std::make_unique<SGD>(ps, 0.05f,
                                      SGDOptions{.momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true});
       }, {}},
      {"adam", [](NamedParameters ps) {
         return std::make_unique<Adam>(ps, 1e-3f, AdamOptions{.weight_decay = 5e-4f});
       }, {}},
      {"adamw", [](NamedParameters ps) {
         return std::make_unique<AdamW>(ps, 1e-3f, AdamOptions{.weight_decay = 1e-2f});
       }, {"features.0.bias", "features.4.bias"}},
  };
  for (const Run& run : runs) {
    SCOPED_TRACE(run.tag);
    auto net = c.network();
    net->train();
    for (auto& [name, v] : net->named_parameters())
      for (const auto& fz : run.frozen)
        if (name == fz) v->set_requires_grad(false);
    auto opt = run.make(net->named_parameters());
    for (int step = 0; step < 3; ++step) {
      opt->zero_grad();
      c.loss(*net).backward();
      opt->step();
    }
    const std::string pre = c.prefix + "." + run.tag + ".";
    for (auto& [name, v] : net->named_parameters()) {
      const Tensor& before = f[c.prefix + ".w." + name];
      const Tensor ours = movement(v->data(), before), theirs = movement(f[pre + name], before);
      if (std::find(run.frozen.begin(), run.frozen.end(), name) != run.frozen.end()) {
        // Frozen: not moved at all, not even by weight decay.
        for (int64_t i = 0; i < ours.numel(); ++i) ASSERT_EQ(ours[i], 0.0f) << pre + name;
        for (int64_t i = 0; i < theirs.numel(); ++i) ASSERT_EQ(theirs[i], 0.0f) << pre + name << " (torch)";
      } else if (bias_before_batchnorm(name)) {
        // Its gradient is rounding noise (~1e-7), so weight decay moves it, by ~1e-5, and the noise is
        // ~1e-3 of that movement (measured: 9.5e-4 at worst).
        expect_close("movement under weight decay", pre + name, ours, theirs, 2e-3, 1e-30);
      } else {
        expect_close("movement in 3 steps", pre + name, ours, theirs, kTol, 1e-30);
      }
    }
    for (auto& [name, t] : net->named_buffers())
      expect_close("running stats after 3 steps", pre + "buf." + name, *t, f[pre + "buf." + name]);
    // The optimizer state: the same entries as PyTorch's (none for frozen parameters), the same values.
    std::set<std::string> ours, theirs;
    for (auto& [name, t] : opt->named_state()) {
      ours.insert(name);
      const std::string key = pre + "state." + name;
      ASSERT_TRUE(f.has(key)) << key;
      size_t dot = name.rfind('.');
      if (name.substr(dot + 1) == "momentum_buffer" && bias_before_batchnorm(name.substr(0, dot))) {
        // grad ~0 (noise) + weight decay: compare with an absolute bound of the gradient noise times 3 steps.
        for (int64_t i = 0; i < t->numel(); ++i) EXPECT_NEAR((*t)[i], f[key][i], 1e-6) << key;
        continue;
      }
      expect_close("optimizer state", key, *t, f[key]);
    }
    for (auto& [name, t] : f.all())
      if (name.starts_with(pre + "state.")) theirs.insert(name.substr(pre.size() + 6));
    EXPECT_EQ(ours, theirs);
    EXPECT_EQ(opt->step_count(), 3);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ParityCase, ::testing::Values("sq", "ns"));

TEST(Parity, CrossEntropyWeightsAndSmoothing) {
  const Fixture& f = fixture();
  std::vector<int> targets;
  for (int64_t i = 0; i < f["ce.targets"].numel(); ++i) targets.push_back(static_cast<int>(f["ce.targets"][i]));
  std::vector<float> weights(f["ce.weights"].data(), f["ce.weights"].data() + f["ce.weights"].numel());
  struct V {
    const char* tag;
    bool weighted;
    float smoothing;
  };
  for (V v : {V{"plain", false, 0.0f}, V{"w", true, 0.0f}, V{"s", false, 0.2f}, V{"ws", true, 0.2f}}) {
    CrossEntropyOptions o;
    if (v.weighted) o.class_weights = weights;
    o.label_smoothing = v.smoothing;
    Variable x(f["ce.logits"].clone(), true);
    Variable loss = cross_entropy(x, targets, o);
    loss.backward();
    const std::string pre = std::string("ce.") + v.tag;
    expect_close("cross-entropy loss", pre + ".loss", loss.data(), f[pre + ".loss"]);
    expect_close("cross-entropy grad", pre + ".grad", x.grad(), f[pre + ".grad"]);
  }
}

// Prints the worst error of each kind once all tests have run (for the report).
class ReportWorstErrors : public ::testing::Environment {
 public:
  void TearDown() override {
    for (auto& [kind, w] : worst())
      std::printf("[ parity   ] worst relative error, %-28s %.3g  (%s)\n", kind.c_str(), w.first, w.second.c_str());
  }
};
static ::testing::Environment* const kReport = ::testing::AddGlobalTestEnvironment(new ReportWorstErrors);
