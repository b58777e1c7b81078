// layers/optim: SGD, Adam, AdamW on hand-computed examples (the exact-formula check on a real network is
// in test_parity against PyTorch), frozen parameters, learning-rate changes, and named state save/restore.
#include <gtest/gtest.h>

#include <cmath>

#include "gradcheck.h"
#include "layers/optim.h"

using namespace cxr;
using namespace cxr::testing;

// One scalar parameter with a gradient set by hand before each step.
struct Scalar {
  Variable p;
  explicit Scalar(float v) : p(Tensor::from({v}, {1}), true) {}
  void grad(float g) {
    p.zero_grad();
    p.accumulate_grad(Tensor::from({g}, {1}));
  }
  float value() const { return p.data()[0]; }
};

TEST(SGD, PlainMomentumNesterovDampeningWeightDecay) {
  {  // momentum 0.9, lr 0.1, g = 0.5: buf = 0.5 then 0.95; p = 1 - 0.05 - 0.095
    Scalar s(1);
    SGD opt({{"p", &s.p}}, 0.1f, {.momentum = 0.9f});
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.95f);
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.855f);
  }
  {  // Nesterov: d = g + 0.9 buf: 0.95, then 0.5 + 0.855 = 1.355
    Scalar s(1);
    SGD opt({{"p", &s.p}}, 0.1f, {.momentum = 0.9f, .nesterov = true});
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.905f);
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.7695f);
  }
  {  // dampening 0.5: the first buffer is the raw gradient, then 0.9 * 0.5 + 0.5 * 0.5 = 0.7
    Scalar s(1);
    SGD opt({{"p", &s.p}}, 0.1f, {.momentum = 0.9f, .dampening = 0.5f});
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.95f);
    s.grad(0.5f), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.88f);
  }
  {  // weight decay 0.1, lr 0.5, g = 1: d = 1 + 0.1 p: p = 2 - 0.6 = 1.4, then 1.4 - 0.57 = 0.83
    Scalar s(2);
    SGD opt({{"p", &s.p}}, 0.5f, {.weight_decay = 0.1f});
    s.grad(1), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 1.4f);
    s.grad(1), opt.step();
    EXPECT_FLOAT_EQ(s.value(), 0.83f);
    EXPECT_TRUE(opt.named_state().empty());  // no momentum: no state
  }
  Scalar s(1);
  EXPECT_THROW(SGD({{"p", &s.p}}, 0.1f, {.nesterov = true}), Error);
  EXPECT_THROW(SGD({{"p", &s.p}}, -1.0f), Error);
  EXPECT_THROW(SGD({{"p", &s.p}, {"p", &s.p}}, 0.1f), Error);
}

TEST(Adam, BiasCorrectedSteps) {
  {  // a constant gradient: the corrected moments are g and g^2, so each step moves lr * sign(g)
    Scalar s(1);
    Adam opt({{"p", &s.p}}, 0.1f);
    s.grad(0.5f), opt.step();
    EXPECT_NEAR(s.value(), 0.9f, 1e-6);
    s.grad(0.5f), opt.step();
    EXPECT_NEAR(s.value(), 0.8f, 1e-6);
  }
  {  // g = 1 then -1: m2 = -0.01, v2 = 0.001999; m2 / 0.19 = -0.0526316, v2 / 0.001999 = 1
    Scalar s(1);
    Adam opt({{"p", &s.p}}, 0.1f);
    s.grad(1), opt.step();
    s.grad(-1), opt.step();
    EXPECT_NEAR(s.value(), 0.9f + 0.1f * 0.0526316f, 2e-6);
  }
  {  // Adam's weight decay is an L2 term in the gradient: g = 0 + 0.5 * 1 > 0 moves p down by lr
    Scalar s(1);
    Adam opt({{"p", &s.p}}, 0.1f, {.weight_decay = 0.5f});
    s.grad(0), opt.step();
    EXPECT_NEAR(s.value(), 0.9f, 1e-6);
  }
  {  // AdamW decays the weight itself first: 1 * (1 - 0.1 * 0.1) - 0.1
    Scalar s(1);
    AdamW opt({{"p", &s.p}}, 0.1f, {.weight_decay = 0.1f});
    s.grad(1), opt.step();
    EXPECT_NEAR(s.value(), 0.89f, 1e-6);
    EXPECT_EQ(opt.type(), "AdamW");
    EXPECT_FLOAT_EQ(AdamW({{"p", &s.p}}).options.weight_decay, 1e-2f);  // PyTorch's default
  }
}

TEST(Optimizer, FrozenParametersAreSkippedAndStepsArePerParameter) {
  Scalar a(1), b(1);
  Adam opt({{"a", &a.p}, {"b", &b.p}}, 0.1f);
  a.grad(1), opt.step();  // b has no gradient (frozen): untouched, no state
  EXPECT_EQ(b.value(), 1.0f);
  ASSERT_EQ(opt.named_state().size(), 3u);
  EXPECT_EQ(opt.named_state()[0].first, "a.exp_avg");
  a.grad(1), b.grad(1), opt.step();
  // b's first step is a first step (step 1 of its own), so it moves exactly lr.
  EXPECT_NEAR(b.value(), 0.9f, 1e-6);
  std::map<std::string, float> st;
  for (auto& [n, t] : opt.named_state()) st[n] = (*t)[0];
  EXPECT_EQ(st["a.step"], 2.0f);
  EXPECT_EQ(st["b.step"], 1.0f);
  EXPECT_EQ(opt.step_count(), 2);
}

TEST(Optimizer, ZeroGradAndLearningRate) {
  Scalar s(1);
  SGD opt({{"p", &s.p}}, 0.1f);
  s.grad(1);
  opt.zero_grad();
  EXPECT_FALSE(s.p.has_grad());
  opt.step();  // nothing to do
  EXPECT_EQ(s.value(), 1.0f);
  opt.set_lr(0.25f);
  EXPECT_EQ(opt.lr(), 0.25f);
  s.grad(1), opt.step();
  EXPECT_FLOAT_EQ(s.value(), 0.75f);
  EXPECT_THROW(opt.set_lr(std::nanf("")), Error);
}

// Two identical runs, the second interrupted after two steps and restored from named_state(), must end
// bit-identical: this is what a checkpoint's optimizer state has to carry.
template <typename MakeOpt>
static void check_restore(MakeOpt make) {
  Rng rng(3);
  Tensor w0 = random_tensor({4, 3}, rng), b0 = random_tensor({3}, rng);
  std::vector<Tensor> grads;
  for (int i = 0; i < 8; ++i) grads.push_back(random_tensor({4, 3}, rng)), grads.push_back(random_tensor({3}, rng));
  auto run = [&](Variable& w, Variable& b, Optimizer& opt, int from, int to) {
    for (int i = from; i < to; ++i) {
      w.zero_grad(), b.zero_grad();
      w.accumulate_grad(grads[2 * i].clone());
      b.accumulate_grad(grads[2 * i + 1].clone());
      opt.step();
    }
  };
  Variable w1(w0.clone(), true), b1(b0.clone(), true);
  auto o1 = make(NamedParameters{{"fc.weight", &w1}, {"fc.bias", &b1}});
  run(w1, b1, *o1, 0, 4);

  Variable w2(w0.clone(), true), b2(b0.clone(), true);
  auto o2 = make(NamedParameters{{"fc.weight", &w2}, {"fc.bias", &b2}});
  run(w2, b2, *o2, 0, 2);
  // "Save", then restore into fresh parameters and a fresh optimizer.
  std::vector<std::pair<std::string, Tensor>> saved;
  for (auto& [n, t] : o2->named_state()) saved.push_back({n, t->clone()});
  EXPECT_FALSE(saved.empty());
  Variable w3(w2.data().clone(), true), b3(b2.data().clone(), true);
  auto o3 = make(NamedParameters{{"fc.weight", &w3}, {"fc.bias", &b3}});
  for (auto& [n, t] : saved) o3->load_state(n, t);
  o3->set_step_count(o2->step_count());
  run(w3, b3, *o3, 2, 4);
  for (int64_t i = 0; i < w1.numel(); ++i) ASSERT_EQ(w1.data()[i], w3.data()[i]) << o1->type() << " " << i;
  for (int64_t i = 0; i < b1.numel(); ++i) ASSERT_EQ(b1.data()[i], b3.data()[i]) << o1->type() << " " << i;
  EXPECT_EQ(o3->step_count(), 4);

  EXPECT_THROW(o3->load_state("fc.nothing", Tensor::zeros({3})), Error);
  EXPECT_THROW(o3->load_state("conv.weight.exp_avg", Tensor::zeros({3})), Error);
  EXPECT_THROW(o3->load_state(saved[0].first, Tensor::zeros({5})), Error);
}

TEST(Optimizer, StateSaveAndRestoreContinuesExactly) {
  check_restore([](NamedParameters p) { return std::make_unique<SGD>(p, 0.1f, SGDOptions{.momentum = 0.9f}); });
  check_restore([](NamedParameters p) { return std::make_unique<Adam>(p, 0.01f); });
  check_restore([](NamedParameters p) { return std::make_unique<AdamW>(p, 0.01f); });
}

TEST(Optimizer, StateNames) {
  Variable w(Tensor::zeros({2, 2}), true), b(Tensor::zeros({2}), true);
  SGD sgd({{"features.0.weight", &w}, {"features.0.bias", &b}}, 0.1f, {.momentum = 0.9f});
  w.accumulate_grad(Tensor::full({2, 2}, 1.0f));
  b.accumulate_grad(Tensor::full({2}, 1.0f));
  sgd.step();
  auto st = sgd.named_state();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].first, "features.0.weight.momentum_buffer");
  EXPECT_EQ(st[1].first, "features.0.bias.momentum_buffer");
  EXPECT_EQ((*st[0].second)[3], 1.0f);  // the first buffer is the gradient itself
  Adam adam({{"features.0.weight", &w}}, 0.1f);
  adam.step();
  st = adam.named_state();
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[1].first, "features.0.weight.exp_avg_sq");
  EXPECT_EQ(st[2].first, "features.0.weight.step");
  EXPECT_EQ(st[2].second->shape(), (Shape{1}));
}
