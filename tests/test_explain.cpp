// Tests for explain/: Grad-CAM and its family against maps computed by hand from known weights, batching,
// class "all", the head-only backward, guided backprop, degenerate maps, maps/upsampling, colormaps, .npy,
// SHA-256, overlays, panels, feature grids, and the `cxr explain` / `cxr features` commands.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "explain/cam.h"
#include "explain/colormap.h"
#include "explain/features_grid.h"
#include "explain/font.h"
#include "explain/guided.h"
#include "explain/maps.h"
#include "explain/npy.h"
#include "explain/overlay.h"
#include "explain/sha256.h"
#include "image/image.h"
#include "io/checkpoint.h"
#include "layers/loss.h"
#include "run_cxr.h"

namespace fs = std::filesystem;
using namespace cxr;

namespace {

Tensor random_tensor(const Shape& s, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// x [N, 1, 4, 4] -> Conv2d(1, 2, 1x1) -> ReLU -> flatten (32) -> Linear(32, 3). Small enough that every
// gradient is known in closed form: d y_c / d A_k(i, j) = W[c, k*16 + i*4 + j] at the ReLU output.
class HandNet : public Model {
 public:
  HandNet() : Model(config()) {
    Rng rng(7);
    auto f = std::make_shared<Sequential>();
    conv = std::make_shared<Conv2d>(1, 2, 1, 1, 0, true, rng);
    f->add(conv);
    f->add(std::make_shared<ReLU>());
    auto cls = std::make_shared<Sequential>();
    fc = std::make_shared<Linear>(32, 3, rng);
    cls->add(fc);
    set_parts(f, nullptr, cls);
    const float cw[2] = {1.5f, -0.7f}, cb[2] = {0.1f, 0.3f};
    for (int k = 0; k < 2; ++k) conv->weight.data()[k] = cw[k], conv->bias.data()[k] = cb[k];
    fc->weight.data().copy_from(random_tensor({3, 32}, 11));
    fc->bias.data().copy_from(random_tensor({3}, 12));
    eval();
  }
  static ModelConfig config() {
    ModelConfig c;
    c.arch = "seedcnn";
    c.in_channels = 1;
    return c;
  }
  void check_input(const Shape& x) const override {
    CXR_CHECK(x.size() == 4 && x[1] == 1 && x[2] == 4 && x[3] == 4, "HandNet wants [N, 1, 4, 4]");
  }
  std::string type() const override { return "HandNet"; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<Linear> fc;
};

// Everything HandNet computes, by hand, for image n of x.
struct HandRef {
  float z[2][16], a[2][16];  // conv output, ReLU output
  float logits[3];
};
HandRef hand_forward(HandNet& m, const Tensor& x, int64_t n) {
  HandRef r{};
  const float* W = m.fc->weight.data().data();
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 16; ++i) {
      r.z[k][i] = m.conv->weight.data()[k] * x[n * 16 + i] + m.conv->bias.data()[k];
      r.a[k][i] = std::max(r.z[k][i], 0.0f);
    }
  for (int c = 0; c < 3; ++c) {
    double s = m.fc->bias.data()[c];
    for (int k = 0; k < 2; ++k)
      for (int i = 0; i < 16; ++i) s += double(W[c * 32 + k * 16 + i]) * r.a[k][i];
    r.logits[c] = static_cast<float>(s);
  }
  return r;
}

void expect_near_tensor(const Tensor& got, const std::vector<double>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[static_cast<int64_t>(i)], want[i], tol * std::max(1.0, std::fabs(want[i]))) << what << " at " << i;
}

std::shared_ptr<Model> tiny_vgg(int size = 64, const std::string& head = "torchvision", bool bn = false) {
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = bn;
  c.width = 0.0625f;
  c.input_size = size;
  c.head = head;
  c.seed = 3;
  auto m = make_model(c);
  m->eval();
  return m;
}

}  // namespace

// ---- Grad-CAM and family, by hand -----------------------------------------------------------------

TEST(ExplainHand, GradCamMatchesClosedForm) {
  HandNet m;
  Tensor x = random_tensor({2, 1, 4, 4}, 5);
  ExplainRequest req;  // gradcam, default layer (features.1 = the ReLU), predicted class
  Tensor probs;
  auto res = explain_batch(m, x, req, &probs);
  ASSERT_EQ(res.size(), 2u);
  const float* W = m.fc->weight.data().data();
  for (int64_t n = 0; n < 2; ++n) {
    HandRef r = hand_forward(m, x, n);
    const int pred = static_cast<int>(std::max_element(r.logits, r.logits + 3) - r.logits);
    ASSERT_EQ(res[n].size(), 1u);
    const Explanation& e = res[n][0];
    EXPECT_EQ(e.class_index, pred);
    EXPECT_NEAR(e.score, r.logits[pred], 1e-5);
    EXPECT_EQ(e.layer, "features.1 (relu1_1)");
    // alpha_k = mean over the 16 positions of W[c, k*16 + ij]; L = sum_k alpha_k A_k.
    double alpha[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      for (int i = 0; i < 16; ++i) alpha[k] += W[pred * 32 + k * 16 + i];
      alpha[k] /= 16.0;
    }
    std::vector<double> raw(16);
    for (int i = 0; i < 16; ++i) raw[i] = alpha[0] * r.a[0][i] + alpha[1] * r.a[1][i];
    ASSERT_EQ(e.raw.shape(), (Shape{4, 4}));
    expect_near_tensor(e.raw, raw, 1e-5, "gradcam raw");
    // map: ReLU then min-max
    double lo = 1e30, hi = -1e30;
    for (double v : raw) lo = std::min(lo, std::max(v, 0.0)), hi = std::max(hi, std::max(v, 0.0));
    // The case has contrast after the ReLU (else the map would be flagged degenerate and all zeros).
    ASSERT_GT(hi, lo) << "image " << n << ": a flat map tests no min-max";
    EXPECT_FALSE(e.degenerate) << e.degenerate_reason;
    std::vector<double> map(16);
    for (int i = 0; i < 16; ++i) map[i] = (std::max(raw[i], 0.0) - lo) / (hi - lo);
    expect_near_tensor(e.map, map, 1e-5, "gradcam map");
    // probability: softmax of the hand logits
    double den = 0;
    for (float l : r.logits) den += std::exp(double(l) - r.logits[pred]);
    EXPECT_NEAR(e.probability, 1.0 / den, 1e-5);
  }
}

TEST(ExplainHand, ConvLayerGradientGoesThroughRelu) {
  HandNet m;
  Tensor x = random_tensor({1, 1, 4, 4}, 9);
  ExplainRequest req;
  req.layers = {"conv1_1"};
  req.classes = {2};
  auto e = explain_batch(m, x, req)[0][0];
  HandRef r = hand_forward(m, x, 0);
  const float* W = m.fc->weight.data().data();
  double alpha[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 16; ++i) alpha[k] += r.z[k][i] > 0 ? W[2 * 32 + k * 16 + i] : 0.0;
    alpha[k] /= 16.0;
  }
  std::vector<double> raw(16);
  for (int i = 0; i < 16; ++i) raw[i] = alpha[0] * r.z[0][i] + alpha[1] * r.z[1][i];
  expect_near_tensor(e.raw, raw, 1e-5, "gradcam at the conv");
}

TEST(ExplainHand, FamilyFormulas) {
  HandNet m;
  Tensor x = random_tensor({1, 1, 4, 4}, 21);
  HandRef r = hand_forward(m, x, 0);
  const float* W = m.fc->weight.data().data();
  const int c = 1;
  auto g = [&](int k, int i) { return double(W[c * 32 + k * 16 + i]); };
  auto run = [&](const std::string& method, bool cf = false) {
    ExplainRequest req;
    req.method = parse_method(method);
    req.classes = {c};
    req.counterfactual = cf;
    return explain_batch(m, x, req)[0][0];
  };
  std::vector<double> hires(16), layer(16), xgrad(16), pp(16), cf(16);
  double wx[2], wpp[2], wcf[2];
  for (int k = 0; k < 2; ++k) {
    double sa = 0, sga = 0, sg = 0;
    wpp[k] = 0;
    for (int i = 0; i < 16; ++i) sa += r.a[k][i], sga += g(k, i) * r.a[k][i], sg += g(k, i);
    wx[k] = sga / (sa + 1e-7);
    wcf[k] = -sg / 16.0;
    for (int i = 0; i < 16; ++i) {
      const double gi = g(k, i);
      const double alpha = gi * gi / (2 * gi * gi + sa * gi * gi * gi + 1e-6);
      wpp[k] += alpha * std::max(gi, 0.0);
    }
  }
  for (int i = 0; i < 16; ++i) {
    hires[i] = g(0, i) * r.a[0][i] + g(1, i) * r.a[1][i];
    layer[i] = std::max(g(0, i), 0.0) * r.a[0][i] + std::max(g(1, i), 0.0) * r.a[1][i];
    xgrad[i] = wx[0] * r.a[0][i] + wx[1] * r.a[1][i];
    pp[i] = wpp[0] * r.a[0][i] + wpp[1] * r.a[1][i];
    cf[i] = wcf[0] * r.a[0][i] + wcf[1] * r.a[1][i];
  }
  expect_near_tensor(run("hirescam").raw, hires, 1e-5, "hirescam");
  expect_near_tensor(run("layercam").raw, layer, 1e-5, "layercam");
  expect_near_tensor(run("xgradcam").raw, xgrad, 1e-4, "xgradcam");
  expect_near_tensor(run("gradcam++").raw, pp, 1e-4, "gradcam++");
  Explanation ecf = run("gradcam", true);
  expect_near_tensor(ecf.raw, cf, 1e-5, "counterfactual gradcam");
  EXPECT_TRUE(ecf.counterfactual);
  EXPECT_THROW(run("eigencam", true), Error);
}

TEST(ExplainHand, EigenCamOfRankOneActivation) {
  // A_k = c_k * P: centred, X = (P - mean P) c^T, so the first component is |c| (P - mean P), sign positive.
  const int64_t C = 5, h = 3, w = 4;
  Tensor P = random_tensor({h * w}, 31, 0.0f, 2.0f), c = random_tensor({C}, 32, 0.5f, 1.5f);
  Tensor A = Tensor::empty({C, h, w});
  double cn = 0, pm = 0;
  for (int64_t k = 0; k < C; ++k) cn += double(c[k]) * c[k];
  for (int64_t i = 0; i < h * w; ++i) pm += P[i] / double(h * w);
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < h * w; ++i) A[k * h * w + i] = c[k] * P[i];
  std::vector<double> want(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < h * w; ++i) want[static_cast<size_t>(i)] = std::sqrt(cn) * (P[i] - pm);
  expect_near_tensor(eigen_cam(A), want, 1e-4, "eigencam (channels > positions)");
  // The other Gram matrix: more positions than channels.
  Tensor A2 = Tensor::empty({2, h, w});
  for (int64_t k = 0; k < 2; ++k)
    for (int64_t i = 0; i < h * w; ++i) A2[k * h * w + i] = c[k] * P[i];
  const double cn2 = std::sqrt(double(c[0]) * c[0] + double(c[1]) * c[1]);
  for (int64_t i = 0; i < h * w; ++i) want[static_cast<size_t>(i)] = cn2 * (P[i] - pm);
  expect_near_tensor(eigen_cam(A2), want, 1e-4, "eigencam (positions > channels)");
}

TEST(ExplainHand, ScoreCamWeightsAreMaskedProbabilities) {
  HandNet m;
  Tensor x = random_tensor({1, 1, 4, 4}, 41);
  ExplainRequest req;
  req.method = CamMethod::ScoreCAM;
  req.classes = {0, 2};
  req.scorecam_batch = 1;  // chunking must not matter
  auto res = explain_batch(m, x, req)[0];
  HandRef r = hand_forward(m, x, 0);
  // Masks: each A_k (4x4, the input's size: the upsampling is the identity) min-max scaled.
  for (size_t s = 0; s < 2; ++s) {
    const int c = req.classes[s];
    std::vector<double> raw(16, 0.0);
    for (int k = 0; k < 2; ++k) {
      float lo = *std::min_element(r.a[k], r.a[k] + 16), hi = *std::max_element(r.a[k], r.a[k] + 16);
      Tensor xm = Tensor::empty({1, 1, 4, 4});
      for (int i = 0; i < 16; ++i) xm[i] = hi > lo ? x[i] * (r.a[k][i] - lo) / (hi - lo) : 0.0f;
      HandRef rm = hand_forward(m, xm, 0);
      double den = 0;
      for (float l : rm.logits) den += std::exp(double(l) - rm.logits[c]);
      const double wk = 1.0 / den;
      for (int i = 0; i < 16; ++i) raw[i] += wk * r.a[k][i];
    }
    expect_near_tensor(res[s].raw, raw, 1e-5, "scorecam class " + std::to_string(c));
  }
}

// ---- batching, classes, head-only backward ----------------------------------------------------------

TEST(Explain, BatchedEqualsSingle) {
  auto m = tiny_vgg(64, "torchvision", true);
  Tensor x = random_tensor({3, 3, 64, 64}, 51);
  for (const char* method : {"gradcam", "gradcam++", "layercam", "guided-gradcam"}) {
    ExplainRequest req;
    req.method = parse_method(method);
    auto all = explain_batch(*m, x, req);
    for (int64_t n = 0; n < 3; ++n) {
      Tensor xi = x.slice(n, n + 1).clone();
      auto one = explain_batch(*m, xi, req);
      const Explanation &a = all[n][0], &b = one[0][0];
      EXPECT_EQ(a.class_index, b.class_index);
      EXPECT_NEAR(a.probability, b.probability, 1e-6);
      ASSERT_EQ(a.raw.shape(), b.raw.shape());
      float scale = 1e-12f;
      for (int64_t i = 0; i < b.raw.numel(); ++i) scale = std::max(scale, std::fabs(b.raw[i]));
      for (int64_t i = 0; i < a.raw.numel(); ++i)
        EXPECT_NEAR(a.raw[i], b.raw[i], 1e-5 * scale) << method << " image " << n << " at " << i;
      if (b.guided.defined()) {
        ASSERT_TRUE(a.guided.defined());
        float gs = 1e-12f;
        for (int64_t i = 0; i < b.guided.numel(); ++i) gs = std::max(gs, std::fabs(b.guided[i]));
        for (int64_t i = 0; i < a.guided.numel(); i += 7) EXPECT_NEAR(a.guided[i], b.guided[i], 1e-5 * gs);
      }
    }
  }
}

TEST(Explain, AllClassesEqualPerClassRuns) {
  auto m = tiny_vgg();
  Tensor x = random_tensor({2, 3, 64, 64}, 61);
  ExplainRequest req;
  req.method = CamMethod::GradCAMPlusPlus;
  req.classes = parse_classes("all", {}, 3);
  ASSERT_EQ(req.classes, (std::vector<int>{0, 1, 2}));
  auto all = explain_batch(*m, x, req);
  for (int c = 0; c < 3; ++c) {
    ExplainRequest one = req;
    one.classes = {c};
    auto r = explain_batch(*m, x, one);
    for (int64_t n = 0; n < 2; ++n) {
      ASSERT_EQ(all[n].size(), 3u);
      EXPECT_EQ(all[n][c].class_index, c);
      for (int64_t i = 0; i < r[n][0].raw.numel(); ++i) EXPECT_FLOAT_EQ(all[n][c].raw[i], r[n][0].raw[i]);
    }
  }
}

TEST(Explain, HeadOnlyBackwardComputesNoWeightGradient) {
  auto m = tiny_vgg();
  // One parameter frozen by the caller: its flag must come back as it was.
  m->features->at(0).parameters()[0]->set_requires_grad(false);
  // Watch what the forward records: below the target (relu2_1 = features.4) nothing may require a
  // gradient (no graph: backward cannot go there); above it, the head's graph exists.
  LayerInfo target = resolve_layer(*m, "relu2_1");
  ASSERT_EQ(target.position, 4u);
  std::vector<int> below_requires, above_requires;
  std::vector<int> ids;
  for (size_t i = 0; i < m->features->size(); ++i) {
    ids.push_back(m->features->at(i).add_forward_hook([&, i](Module&, Variable& out) {
      if (i < 4) below_requires.push_back(out.requires_grad());
      if (i > 4) above_requires.push_back(out.requires_grad());
    }));
  }
  ExplainRequest req;
  req.layers = {"relu2_1"};
  req.classes = {0, 1};
  auto res = explain_batch(*m, random_tensor({2, 3, 64, 64}, 71), req);
  for (size_t i = 0; i < ids.size(); ++i) m->features->at(i).remove_forward_hook(ids[i]);
  ASSERT_EQ(below_requires.size(), 4u);
  for (int r : below_requires) EXPECT_FALSE(r) << "a layer below the target recorded a graph";
  ASSERT_FALSE(above_requires.empty());
  for (int r : above_requires) EXPECT_TRUE(r);
  size_t frozen = 0;
  for (auto& [name, p] : m->named_parameters()) {
    EXPECT_FALSE(p->has_grad()) << name << " got a gradient";
    frozen += !p->requires_grad();
  }
  EXPECT_EQ(frozen, 1u) << "requires_grad flags were not restored";
  EXPECT_FALSE(res[0][0].degenerate && res[0][1].degenerate);
  EXPECT_TRUE(m->features->at(0).parameters()[0]->is_leaf());
}

TEST(Explain, TrainModeIsRestoredAndResultsUseEvalMode) {
  auto m = tiny_vgg(64, "torchvision", true);
  Tensor x = random_tensor({1, 3, 64, 64}, 73);
  auto a = explain_batch(*m, x, {});
  m->train();
  auto b = explain_batch(*m, x, {});
  EXPECT_TRUE(m->is_training());
  for (int64_t i = 0; i < a[0][0].raw.numel(); ++i) EXPECT_FLOAT_EQ(a[0][0].raw[i], b[0][0].raw[i]);
}

TEST(Explain, EveryMethodGivesFiniteMapsOfTheRightShape) {
  auto m = tiny_vgg();
  Tensor x = random_tensor({2, 3, 64, 64}, 81);
  LayerInfo def = default_target_layer(*m);
  EXPECT_EQ(def.alias, "relu5_2");  // vgg11's last conv ReLU
  for (const std::string& method : method_names()) {
    ExplainRequest req;
    req.method = parse_method(method);
    req.scorecam_batch = 8;
    auto res = explain_batch(*m, x, req);
    ASSERT_EQ(res.size(), 2u) << method;
    for (const auto& per : res) {
      const Explanation& e = per[0];
      const Shape want = method == "guided" ? Shape{64, 64} : Shape{4, 4};
      EXPECT_EQ(e.raw.shape(), want) << method;
      EXPECT_EQ(e.map.shape(), want) << method;
      for (int64_t i = 0; i < e.raw.numel(); ++i) ASSERT_TRUE(std::isfinite(e.raw[i])) << method;
      for (int64_t i = 0; i < e.map.numel(); ++i) ASSERT_TRUE(e.map[i] >= 0.0f && e.map[i] <= 1.0f) << method;
      EXPECT_EQ(e.guided.defined(), method == "guided" || method == "guided-gradcam") << method;
      if (e.guided.defined()) {
        EXPECT_EQ(e.guided.shape(), (Shape{3, 64, 64}));
      }
      EXPECT_EQ(method_name(e.method), method);
    }
  }
  // Fused layers: input resolution.
  ExplainRequest fused;
  fused.method = CamMethod::LayerCAM;
  fused.layers = {"relu3_2+relu4_2+relu5_2"};
  for (FuseMode how : {FuseMode::Max, FuseMode::Sum}) {
    fused.fuse = how;
    auto e = explain_batch(*m, x, fused)[0][0];
    EXPECT_EQ(e.raw.shape(), (Shape{64, 64}));
    EXPECT_EQ(e.layer, "features.9 (relu3_2) + features.14 (relu4_2) + features.19 (relu5_2)");
  }
  ExplainRequest bad;
  bad.layers = {"fc1"};
  EXPECT_THROW(explain_batch(*m, x, bad), Error);
  bad.layers = {"relu9_9"};
  EXPECT_THROW(explain_batch(*m, x, bad), Error);
  bad.layers = {"relu5_2+features.22"};
  EXPECT_THROW(explain_batch(*m, x, bad), Error);
}

TEST(Explain, WithGuidedAddsGuidedGradCam) {
  auto m = tiny_vgg();
  Tensor x = random_tensor({1, 3, 64, 64}, 83);
  ExplainRequest req;
  req.with_guided = true;
  auto e = explain_batch(*m, x, req)[0][0];
  ASSERT_TRUE(e.guided.defined());
  // = guided backprop x the map upsampled, computed separately (against PyTorch: test_explain_parity's
  // ExplainParity.GuidedGradCam).
  Tensor gb = guided_backprop(*m, x, {e.class_index})[0];
  Tensor want = guided_gradcam(gb.reshape({3, 64, 64}), e.map);
  float scale = 1e-12f;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(want[i]));
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_NEAR(e.guided[i], want[i], 1e-5 * scale);
}

TEST(Explain, GuidedBackpropDropsNegativeGradients) {
  // x -> Conv2d(1,1,1x1, w=1, b=0) -> ReLU -> flatten -> Linear(16, 2): the plain input gradient of y_c is
  // W[c, i] where x_i > 0; the guided one keeps only the positive W[c, i] there.
  class GuideNet : public Model {
   public:
    GuideNet() : Model(HandNet::config()) {
      Rng rng(3);
      auto f = std::make_shared<Sequential>();
      auto conv = std::make_shared<Conv2d>(1, 1, 1, 1, 0, true, rng);
      conv->weight.data()[0] = 1.0f;
      conv->bias.data()[0] = 0.0f;
      f->add(conv);
      f->add(std::make_shared<ReLU>());
      auto cls = std::make_shared<Sequential>();
      fc = std::make_shared<Linear>(16, 2, rng);
      fc->weight.data().copy_from(random_tensor({2, 16}, 91));
      cls->add(fc);
      set_parts(f, nullptr, cls);
    }
    void check_input(const Shape&) const override {}
    std::string type() const override { return "GuideNet"; }
    std::shared_ptr<Linear> fc;
  } m;
  Tensor x = random_tensor({1, 1, 4, 4}, 92);
  const int c = 1;
  Tensor guided = guided_backprop(m, x, {c}, true)[0], plain = guided_backprop(m, x, {c}, false)[0];
  int differ = 0;
  for (int i = 0; i < 16; ++i) {
    const float w = m.fc->weight.data()[c * 16 + i];
    const bool on = x[i] > 0;
    EXPECT_FLOAT_EQ(plain[i], on ? w : 0.0f) << i;
    EXPECT_FLOAT_EQ(guided[i], on && w > 0 ? w : 0.0f) << i;
    differ += plain[i] != guided[i];
  }
  EXPECT_GT(differ, 0) << "the case must tell guided from plain";
  ExplainRequest req;
  req.method = CamMethod::Guided;
  req.classes = {c};
  auto e = explain_batch(m, x, req)[0][0];
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(e.guided[i], guided[i]);
  EXPECT_FALSE(guided_relu()) << "guided mode leaked out of the explain call";
}

// ---- degenerate maps ---------------------------------------------------------------------------------

TEST(ExplainMaps, DegenerateDetection) {
  auto m = tiny_vgg();
  Linear* last = dynamic_cast<Linear*>(&m->classifier->at(m->classifier->size() - 1));
  ASSERT_NE(last, nullptr);
  last->weight.data().zero();  // every gradient into the features is zero
  auto e = explain_batch(*m, random_tensor({1, 3, 64, 64}, 101), {})[0][0];
  EXPECT_TRUE(e.degenerate);
  EXPECT_FALSE(e.degenerate_reason.empty());
  for (int64_t i = 0; i < e.map.numel(); ++i) EXPECT_EQ(e.map[i], 0.0f);
  Tensor t = Tensor::from({1, 2, 3, 4}, {2, 2});
  EXPECT_FALSE(check_map(t).degenerate);
  EXPECT_EQ(check_map(Tensor::full({2, 2}, 3.0f)).reason, "constant map");
  EXPECT_EQ(check_map(Tensor::from({-1, -2, 0, -4}, {2, 2})).reason, "all values <= 0: no positive evidence");
  EXPECT_EQ(check_map(Tensor::from({1, NAN, 0, 4}, {2, 2})).reason, "non-finite values (NaN or Inf)");
  EXPECT_EQ(check_map(Tensor::from({1, 2, INFINITY, 4}, {2, 2})).reason, "non-finite values (NaN or Inf)");
  EXPECT_TRUE(check_map(Tensor::from({1.0f, 1.0f + 1e-9f, 1.0f, 1.0f}, {2, 2})).degenerate);
  EXPECT_FALSE(check_map(Tensor::from({-1, -2, -3, -4}, {2, 2}), /*relu=*/false).degenerate);
  Tensor nm = normalize_map(Tensor::from({-1, 0, 1, 3}, {2, 2}));
  EXPECT_FLOAT_EQ(nm[0], 0.0f);
  EXPECT_FLOAT_EQ(nm[2], 1.0f / 3.0f);
  EXPECT_FLOAT_EQ(nm[3], 1.0f);
  // A flat explanation renders as the neutral heatmap, never as a coloured one.
  Rendered r = render(e, Tensor::full({1, 40, 60}, 0.3f));
  int coloured = 0;
  for (int64_t i = 0; i < 40 * 60; ++i)
    coloured += r.heatmap[i] != r.heatmap[40 * 60 + i] || r.heatmap[i] != r.heatmap[2 * 40 * 60 + i];
  EXPECT_EQ(coloured, 0);
}

// ---- maps, colormaps, files -------------------------------------------------------------------------

TEST(ExplainMaps, UpsamplingMatchesTorch) {
  Tensor x = Tensor::from({1, 2, 3, 4}, {2, 2});
  // torch.nn.functional.interpolate(x, size, align_corners=False) (values from PyTorch 1.13)
  Tensor b = upsample_map(x, 3, 5, Upsample::Bilinear);
  const float bw[] = {1.0f, 1.1f, 1.5f, 1.9f, 2.0f, 2.0f, 2.1f, 2.5f, 2.9f, 3.0f, 3.0f, 3.1f, 3.5f, 3.9f, 4.0f};
  for (int i = 0; i < 15; ++i) EXPECT_NEAR(b[i], bw[i], 1e-6) << i;
  Tensor n = upsample_map(x, 3, 5, Upsample::Nearest);
  const float nw[] = {1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4};
  for (int i = 0; i < 15; ++i) EXPECT_EQ(n[i], nw[i]) << i;
  Tensor c = upsample_map(x, 4, 4, Upsample::Bicubic);
  const float cw[] = {0.68359375f, 1.015625f, 1.5625f,     1.89453125f, 1.34765625f, 1.6796875f,
                      2.2265625f,  2.55859375f, 2.44140625f, 2.7734375f,  3.3203125f,  3.65234375f,
                      3.10546875f, 3.4375f,     3.984375f,   4.31640625f};
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(c[i], cw[i], 1e-4) << i;
  // [C, h, w] planes alike; downsampling works too.
  Tensor planes = Tensor::from({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  Tensor up = upsample_map(planes, 3, 5);
  EXPECT_EQ(up.shape(), (Shape{2, 3, 5}));
  EXPECT_NEAR(up[15 + 2], 5.5f, 1e-6);
  EXPECT_EQ(upsample_map(Tensor::zeros({8, 8}), 3, 3).shape(), (Shape{3, 3}));
  EXPECT_THROW(parse_upsample("lanczos"), Error);
}

TEST(ExplainMaps, Colormaps) {
  float rgb[3];
  colormap_rgb(Colormap::Jet, 0.0f, rgb);  // dark blue
  EXPECT_FLOAT_EQ(rgb[0], 0.0f);
  EXPECT_FLOAT_EQ(rgb[1], 0.0f);
  EXPECT_FLOAT_EQ(rgb[2], 0.5f);
  colormap_rgb(Colormap::Jet, 1.0f, rgb);  // dark red
  EXPECT_FLOAT_EQ(rgb[0], 0.5f);
  EXPECT_FLOAT_EQ(rgb[1], 0.0f);
  EXPECT_FLOAT_EQ(rgb[2], 0.0f);
  colormap_rgb(Colormap::Jet, 0.5f, rgb);  // matplotlib: (0.4839, 1.0, 0.4839)
  EXPECT_NEAR(rgb[0], 0.15 / 0.31, 1e-5);
  EXPECT_FLOAT_EQ(rgb[1], 1.0f);
  EXPECT_NEAR(rgb[2], 1.0 - 0.16 / 0.31, 1e-5);
  colormap_rgb(Colormap::Jet, 7.0f, rgb);  // clamped
  EXPECT_FLOAT_EQ(rgb[0], 0.5f);
  colormap_rgb(Colormap::Turbo, 0.0f, rgb);
  EXPECT_NEAR(rgb[0], 0.18995, 1e-6);
  colormap_rgb(Colormap::Turbo, 1.0f, rgb);
  EXPECT_NEAR(rgb[0], 0.47960, 1e-6);
  EXPECT_NEAR(rgb[2], 0.01055, 1e-6);
  colormap_rgb(Colormap::Inferno, 0.0f, rgb);
  EXPECT_NEAR(rgb[0] + rgb[1] + rgb[2], 0.001462 + 0.000466 + 0.013866, 1e-6);  // black
  colormap_rgb(Colormap::Inferno, 1.0f, rgb);
  EXPECT_NEAR(rgb[1], 0.998364, 1e-6);
  colormap_rgb(Colormap::Inferno, 128.0f / 255.0f, rgb);  // a knot: exact
  EXPECT_NEAR(rgb[0], 0.735683, 1e-5);
  colormap_rgb(Colormap::Gray, 0.25f, rgb);
  EXPECT_FLOAT_EQ(rgb[1], 0.25f);
  // Inferno brightness rises monotonically.
  float prev = -1;
  for (int i = 0; i <= 100; ++i) {
    colormap_rgb(Colormap::Inferno, i / 100.0f, rgb);
    const float lum = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
    EXPECT_GT(lum, prev) << i;
    prev = lum;
  }
  Tensor img = apply_colormap(Tensor::from({0.0f, 1.0f}, {1, 2}), Colormap::Jet);
  EXPECT_EQ(img.shape(), (Shape{3, 1, 2}));
  EXPECT_FLOAT_EQ(img[4], 0.5f);  // blue of jet(0)
  EXPECT_EQ(parse_colormap("grey"), Colormap::Gray);
  EXPECT_THROW(parse_colormap("viridis"), Error);
}

TEST(ExplainFiles, NpyHeaderAndRoundTrip) {
  Tensor t = random_tensor({3, 5}, 111);
  std::string b = encode_npy(t);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 6), std::string("\x93NUMPY", 6));
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  const size_t hlen = static_cast<uint8_t>(b[8]) | (static_cast<uint8_t>(b[9]) << 8);
  EXPECT_EQ((10 + hlen) % 64, 0u) << "data must start 64-byte aligned";
  const std::string header = b.substr(10, hlen);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(b.size(), 10 + hlen + 15 * 4);
  for (int i = 0; i < 15; ++i) {
    float v;
    std::memcpy(&v, b.data() + 10 + hlen + 4 * i, 4);
    EXPECT_EQ(v, t[i]);
  }
  const fs::path dir = fs::temp_directory_path() / "cxr_test_explain_npy";
  fs::create_directories(dir);
  save_npy((dir / "m.npy").string(), t);
  Tensor back = load_npy((dir / "m.npy").string());
  EXPECT_EQ(back.shape(), t.shape());
  for (int i = 0; i < 15; ++i) EXPECT_EQ(back[i], t[i]);
  EXPECT_NE(encode_npy(Tensor::zeros({4})).find("'shape': (4,)"), std::string::npos);
  EXPECT_THROW(decode_npy("not npy at all", "x.npy"), Error);
  std::string cut = b.substr(0, b.size() - 4);
  EXPECT_THROW(decode_npy(cut, "cut.npy"), Error);
  fs::remove_all(dir);
}

TEST(ExplainFiles, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 s;  // a million 'a', fed in uneven pieces
  std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left) {
    const size_t k = std::min(left, chunk.size());
    s.update(chunk.data(), k);
    left -= k;
  }
  EXPECT_EQ(s.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const fs::path p = fs::temp_directory_path() / "cxr_test_sha.bin";
  cxr::write_file_atomic(p.string(), std::string("abc"));
  EXPECT_EQ(sha256_file(p.string()), sha256_hex("abc"));
  fs::remove(p);
  EXPECT_THROW(sha256_file("/nonexistent/file"), Error);
}

// ---- drawing ------------------------------------------------------------------------------------------

TEST(ExplainDraw, OverlayIsAtTheOriginalResolution) {
  Explanation e;
  e.class_name = "COVID19";
  e.probability = 0.9731f;
  e.method = CamMethod::GradCAM;
  e.layer = "features.29 (relu5_3)";
  e.raw = Tensor::from({0, 1, 2, 3}, {2, 2});
  e.map = normalize_map(e.raw);
  Tensor gray = random_tensor({1, 53, 71}, 121, 0, 1);
  OverlayStyle st;
  Rendered r = render(e, gray, st);
  EXPECT_EQ(r.overlay.shape(), (Shape{3, 53, 71}));
  EXPECT_EQ(r.heatmap.shape(), (Shape{3, 53, 71}));
  EXPECT_FALSE(r.guided.defined());
  // overlay = 0.5 image + 0.5 heatmap
  for (int64_t i = 0; i < 53 * 71; i += 37) EXPECT_NEAR(r.overlay[i], 0.5f * gray[i] + 0.5f * r.heatmap[i], 1e-6);
  // alpha 0 is the image itself; alpha 1 the heatmap
  st.alpha = 0.0f;
  Tensor o0 = render(e, gray, st).overlay;
  EXPECT_FLOAT_EQ(o0[100], gray[100]);
  st.alpha = 1.0f;
  EXPECT_FLOAT_EQ(render(e, gray, st).overlay[100], r.heatmap[100]);
  st.alpha = 1.5f;
  EXPECT_THROW(render(e, gray, st), Error);
  // The map's high corner (bottom right) is red in jet, the low corner blue.
  EXPECT_GT(r.heatmap[0 * 53 * 71 + 52 * 71 + 70], 0.4f);
  EXPECT_GT(r.heatmap[2 * 53 * 71 + 0], 0.4f);
  Tensor panel = make_panel(e, gray, {}, "", 64);
  EXPECT_EQ(panel.size(0), 3);
  const int64_t tw = std::llround(71.0 * 64 / 53);
  EXPECT_EQ(panel.size(2), 8 + 3 * (tw + 8));
  e.guided = random_tensor({1, 32, 32}, 122);
  Tensor panel4 = make_panel(e, gray, {}, "", 64);
  EXPECT_EQ(panel4.size(2), 8 + 4 * (tw + 8));
  EXPECT_EQ(panel_title(e), "COVID19 P=0.973  gradcam  features.29 (relu5_3)");
}

TEST(ExplainDraw, FontAndGrid) {
  EXPECT_EQ(text_width("AB", 2), 2 * 12 - 2);
  Tensor img = Tensor::zeros({3, 20, 40});
  const float white[3] = {1, 1, 1};
  draw_text(img, 1, 1, "H1", 2, white);
  double s = 0;
  for (int64_t i = 0; i < img.numel(); ++i) s += img[i];
  // 'H' has 17 lit pixels, '1' has 10: (17 + 10) * 4 (scale 2) * 3 channels
  EXPECT_EQ(s, (17 + 10) * 4 * 3);
  EXPECT_EQ(glyph_rows('a'), glyph_rows('A'));
  EXPECT_EQ(glyph_rows('~'), glyph_rows('?'));
  draw_text(img, 35, 15, "CLIPPED", 3, white);  // must not write outside
  Tensor act = random_tensor({5, 4, 4}, 131);
  GridOptions o;
  Tensor g = channel_grid(act, o);
  EXPECT_EQ(g.shape(), (Shape{3, 2 * 32 + 3 * 2, 3 * 32 + 4 * 2}));
  o.max_channels = 2;
  EXPECT_EQ(channel_grid(act, o).shape(), (Shape{3, 32 + 2 * 2, 2 * 32 + 3 * 2}));
  // each cell is its own min-max: the cell holding a channel's max is white
  GridOptions one;
  one.max_channels = 1;
  Tensor g1 = channel_grid(Tensor::from({0, 1, 2, 3}, {1, 2, 2}), one);
  EXPECT_FLOAT_EQ(g1[(0 * g1.size(1) + 2 + 31) * g1.size(2) + 2 + 31], 1.0f);
  EXPECT_FLOAT_EQ(g1[(0 * g1.size(1) + 2) * g1.size(2) + 2], 0.0f);
}

TEST(ExplainDraw, FeatureLayersAndActivations) {
  auto m = tiny_vgg();
  auto def = feature_layers(*m, "");
  std::vector<std::string> aliases;
  for (auto& l : def) aliases.push_back(l.alias);
  EXPECT_EQ(aliases, (std::vector<std::string>{"relu1_1", "relu2_1", "relu3_2", "relu4_2", "relu5_2"}));
  EXPECT_EQ(feature_layers(*m, "all").size(), m->features->size() + 1);
  auto two = feature_layers(*m, "conv1_1,pool5");
  ASSERT_EQ(two.size(), 2u);
  auto acts = layer_activations(*m, random_tensor({1, 3, 64, 64}, 141), two);
  EXPECT_EQ(acts[0].shape(), (Shape{4, 64, 64}));
  EXPECT_EQ(acts[1].shape(), (Shape{32, 2, 2}));
}

TEST(ExplainApi, ParseClassesAndMethods) {
  std::vector<std::string> names = {"COVID19", "NORMAL", "PNEUMONIA"};
  EXPECT_TRUE(parse_classes("pred", names, 3).empty());
  EXPECT_EQ(parse_classes("all", names, 3), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(parse_classes("normal, 2", names, 3), (std::vector<int>{1, 2}));
  EXPECT_EQ(parse_classes("PNEUMONIA,COVID19", names, 3), (std::vector<int>{2, 0}));
  EXPECT_THROW(parse_classes("flu", names, 3), Error);
  EXPECT_THROW(parse_classes("3", names, 3), Error);
  EXPECT_THROW(parse_classes("1,", names, 3), Error);
  EXPECT_EQ(parse_method("Grad-CAM++"), CamMethod::GradCAMPlusPlus);
  EXPECT_THROW(parse_method("occlusion"), Error);
  for (const auto& n : method_names()) EXPECT_EQ(method_name(parse_method(n)), n);
}

// ---- the commands ------------------------------------------------------------------------------------

namespace {

struct CliFixture {
  fs::path dir;
  std::string ckpt, image, image2;
  CliFixture() {
    dir = fs::temp_directory_path() / ("cxr_test_explain_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "imgs");
    ModelConfig c;
    c.arch = "vgg11";
    c.width = 0.0625f;
    c.input_size = 64;
    c.in_channels = 1;
    c.head = "gap256";
    auto m = make_model(c);
    io::CheckpointMeta meta;
    meta.model = c;
    meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
    ckpt = (dir / "model.safetensors").string();
    io::save_checkpoint(ckpt, *m, meta);
    image = (dir / "imgs" / "scan.png").string();
    image::save_png(image, random_tensor({1, 90, 70}, 151, 0, 1));  // grey, not square
    image2 = (dir / "imgs" / "other.png").string();
    image::save_png(image2, random_tensor({3, 40, 50}, 152, 0, 1));  // RGB
  }
  ~CliFixture() { fs::remove_all(dir); }
  int run(const std::string& args, const std::string& log = "log.txt") const {
    return cxr_test::run_cxr(args, (dir / log).string());
  }
  std::string log(const std::string& name = "log.txt") const { return cxr_test::read_text((dir / name).string()); }
};

}  // namespace

TEST(ExplainCli, ExplainWritesOverlaysPanelsRawMapsAndManifest) {
  CliFixture fx;
  const std::string out = (fx.dir / "out").string();
  ASSERT_EQ(fx.run("explain --threads 1 --model " + fx.ckpt + " --class all --save-raw --batch 2 --out " + out + " " +
                   (fx.dir / "imgs").string()),
            0)
      << fx.log();
  std::ifstream f(fs::path(out) / "explanations.json");
  ASSERT_TRUE(f) << fx.log();
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["checkpoint_sha256"], sha256_file(fx.ckpt));
  EXPECT_EQ(j["method"], "gradcam");
  EXPECT_EQ(j["layers"][0], "features.19 (relu5_2)");
  ASSERT_EQ(j["images"].size(), 2u);
  EXPECT_EQ(j["explanations"], 6);
  for (const auto& im : j["images"]) {
    ASSERT_EQ(im["explanations"].size(), 3u);
    double psum = 0;
    for (auto& [k, v] : im["probabilities"].items()) psum += v.get<double>();
    EXPECT_NEAR(psum, 1.0, 1e-5);
    EXPECT_TRUE(im["seconds"].contains("explain"));
    for (const auto& e : im["explanations"]) {
      ASSERT_TRUE(e["files"].contains("overlay")) << e.dump();
      // The overlay and heatmap are at the ORIGINAL image's size.
      image::ImageInfo info = image::probe_image((fs::path(out) / e["files"]["overlay"].get<std::string>()).string());
      EXPECT_EQ(info.width, im["width"].get<int>());
      EXPECT_EQ(info.height, im["height"].get<int>());
      EXPECT_EQ(info.channels, 3);
      EXPECT_TRUE(fs::exists(fs::path(out) / e["files"]["panel"].get<std::string>()));
      EXPECT_TRUE(fs::exists(fs::path(out) / e["files"]["guided"].get<std::string>()));
      Tensor raw = load_npy((fs::path(out) / e["files"]["raw"].get<std::string>()).string());
      EXPECT_EQ(raw.shape(), (Shape{4, 4}));
      EXPECT_EQ(e.contains("degenerate_reason"), e["degenerate"].get<bool>());
    }
  }
  const std::vector<int> sizes = {j["images"][0]["width"], j["images"][0]["height"]};
  EXPECT_EQ(sizes, (std::vector<int>{50, 40}));  // other.png sorts first
}

TEST(ExplainCli, MethodsLayersAndErrors) {
  CliFixture fx;
  const std::string base = "explain --threads 1 --model " + fx.ckpt + " --out " + (fx.dir / "o2").string() + " ";
  EXPECT_EQ(fx.run(base + "--method layercam --layer relu4_2+relu5_2 --fuse sum --colormap inferno --no-guided "
                          "--no-panel --class NORMAL " + fx.image),
            0)
      << fx.log();
  nlohmann::json j = nlohmann::json::parse(std::ifstream(fx.dir / "o2" / "explanations.json"));
  EXPECT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["images"][0]["explanations"][0]["class"], "NORMAL");
  EXPECT_FALSE(j["images"][0]["explanations"][0]["files"].contains("panel"));
  EXPECT_FALSE(j["images"][0]["explanations"][0]["files"].contains("guided"));
  EXPECT_EQ(j["fuse"], "sum");
  // Method and fusion are read once, into the library's enums: any case and the aliases, written back by
  // their canonical names.
  EXPECT_EQ(fx.run(base + "--method Grad-CAM++ --layer relu4_2+relu5_2 --fuse MAX --no-panel " + fx.image), 0)
      << fx.log();
  j = nlohmann::json::parse(std::ifstream(fx.dir / "o2" / "explanations.json"));
  EXPECT_EQ(j["method"], "gradcam++");
  EXPECT_EQ(j["fuse"], "max");
  EXPECT_TRUE(fs::exists(fx.dir / "o2" / "scan_NORMAL_gradcam++_overlay.png") ||
              fs::exists(fx.dir / "o2" / "scan_COVID19_gradcam++_overlay.png") ||
              fs::exists(fx.dir / "o2" / "scan_PNEUMONIA_gradcam++_overlay.png"));
  EXPECT_EQ(fx.run(base + "--fuse mean " + fx.image), 2);
  EXPECT_NE(fx.log().find("mean"), std::string::npos) << fx.log();
  EXPECT_EQ(fx.run(base + "--method eigencam --upsample bicubic " + fx.image), 0) << fx.log();
  EXPECT_EQ(fx.run(base + "--method gradcam --counterfactual " + fx.image), 0) << fx.log();
  EXPECT_TRUE(fs::exists(fx.dir / "o2" / "scan_NORMAL_layercam_overlay.png"));
  // Arguments wrong in themselves are usage errors (2), each with a message that says what is wrong: an
  // unknown method (checked as the arguments are read), a layer or class the model does not have (checked
  // once the model is read), options that do not go together.
  EXPECT_EQ(fx.run(base + "--method occlusion " + fx.image), 2);
  EXPECT_NE(fx.log().find("unknown explanation method 'occlusion'"), std::string::npos) << fx.log();
  EXPECT_EQ(fx.run(base + "--layer relu9_9 " + fx.image), 2);
  EXPECT_NE(fx.log().find("--layer: unknown layer 'relu9_9'"), std::string::npos) << fx.log();
  EXPECT_EQ(fx.run(base + "--class FLU " + fx.image), 2);
  EXPECT_NE(fx.log().find("--class 'FLU': unknown class"), std::string::npos) << fx.log();
  EXPECT_EQ(fx.run(base + "--method eigencam --counterfactual " + fx.image), 2);
  EXPECT_NE(fx.log().find("--counterfactual: applies to the gradient methods, not to eigencam"), std::string::npos)
      << fx.log();
  EXPECT_EQ(fx.run(base + "--masks " + fx.dir.string() + " " + fx.image), 2);
  EXPECT_NE(fx.log().find("--masks requires --metrics"), std::string::npos) << fx.log();
  EXPECT_EQ(fx.run(base + "--colormap plasma " + fx.image), 2);
  EXPECT_NE(fx.log().find("unknown colormap 'plasma'"), std::string::npos) << fx.log();
  // An unreadable file among good ones: the good ones are explained, the run exits 1 naming the bad file.
  cxr::write_file_atomic((fx.dir / "imgs" / "broken.png").string(), std::string("not a png"));
  EXPECT_EQ(fx.run(base + fx.image + " " + (fx.dir / "imgs" / "broken.png").string()), 1);
  EXPECT_NE(fx.log().find("broken.png"), std::string::npos) << fx.log();
  nlohmann::json j2 = nlohmann::json::parse(std::ifstream(fx.dir / "o2" / "explanations.json"));
  EXPECT_EQ(j2["images"].size(), 1u);
  EXPECT_EQ(j2["failed"], 1);
}

TEST(ExplainCli, MetricsUseTheMetricsModuleAndMaskFolders) {
  CliFixture fx;
  // A lesion mask for scan.png, matched by file name (scan_mask.png), covering the left half.
  fs::create_directories(fx.dir / "masks");
  Tensor mask = Tensor::zeros({1, 90, 70});
  for (int64_t y = 0; y < 90; ++y)
    for (int64_t x = 0; x < 35; ++x) mask[y * 70 + x] = 1.0f;
  image::save_png((fx.dir / "masks" / "scan_mask.png").string(), mask);
  const std::string out = (fx.dir / "om").string();
  ASSERT_EQ(fx.run("explain --threads 1 --model " + fx.ckpt + " --no-panel --no-guided --metrics --masks " +
                   (fx.dir / "masks").string() + " --mask-kind lesion --out " + out + " " + fx.image + " " + fx.image2),
            0)
      << fx.log();
  nlohmann::json j = nlohmann::json::parse(std::ifstream(fs::path(out) / "explanations.json"));
  EXPECT_EQ(j["metrics"], "metrics.json");
  nlohmann::json m = nlohmann::json::parse(std::ifstream(fs::path(out) / "metrics.json"));
  EXPECT_EQ(m["checkpoint_sha256"], sha256_file(fx.ckpt));
  EXPECT_EQ(m["method"], "gradcam");
  ASSERT_TRUE(m.contains("rows")) << m.dump().substr(0, 400);
  ASSERT_EQ(m["rows"].size(), 2u);
  int with_lesion = 0;
  for (const auto& r : m["rows"]) with_lesion += !r["lesion"].is_null();
  EXPECT_EQ(with_lesion, 1) << "only scan.png has a lesion mask";
}

TEST(ExplainCli, FeaturesWritesOneGridPerLayer) {
  CliFixture fx;
  const std::string out = (fx.dir / "feats").string();
  ASSERT_EQ(fx.run("features --threads 1 --model " + fx.ckpt + " --image " + fx.image + " --layers conv1_1,relu5_2 "
                   "--max-channels 3 --out " + out),
            0)
      << fx.log();
  image::ImageInfo a = image::probe_image(out + "/scan_conv1_1.png");
  // 3 of conv1_1's 4 channels, 64x64 each (already >= 32 px): a 2 x 2 grid with 2-px gaps.
  EXPECT_EQ(a.width, 2 * 64 + 3 * 2);
  EXPECT_EQ(a.height, 2 * 64 + 3 * 2);
  EXPECT_TRUE(fs::exists(out + "/scan_relu5_2.png"));
  ASSERT_EQ(fx.run("features --threads 1 --model " + fx.ckpt + " --image " + fx.image + " --out " + out), 0)
      << fx.log();
  for (const char* l : {"relu1_1", "relu2_1", "relu3_2", "relu4_2", "relu5_2"})
    EXPECT_TRUE(fs::exists(out + "/scan_" + l + ".png")) << l;
  // A layer without channel maps is a usage error (2), found once the model is read.
  EXPECT_EQ(fx.run("features --model " + fx.ckpt + " --image " + fx.image + " --layers fc1 --out " + out), 2);
  EXPECT_NE(fx.log().find("--layers: layer classifier.0 (fc1) has no channels to draw"), std::string::npos) << fx.log();
}
