// explain/ against PyTorch 1.13: every raw map of tests/fixtures/gradcam.bin, computed there with forward and
// tensor hooks on a torchvision-layout VGG-11-BN at width 1/16 (see make_gradcam_fixtures.py for the exact
// definitions), must match cxr's to a relative error of 1e-4 (max |difference| / max |reference|). Its three
// images are predicted as three different classes, so each image's own class choice is tested too.
#include <gtest/gtest.h>

#include <cmath>

#include "explain/cam.h"
#include "explain/guided.h"
#include "fixture_reader.h"

using namespace cxr;
using cxr::testing::Fixture;

namespace {

constexpr double kTol = 1e-4;

const Fixture& fixture() {
  static const Fixture f(std::string(CXR_FIXTURE_DIR) + "/gradcam.bin");
  return f;
}

std::shared_ptr<Model> load_net() {
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = true;
  c.width = 0.0625f;
  c.input_size = 64;
  c.head = "gap256";
  c.num_classes = 3;
  auto m = make_model(c);
  const Fixture& f = fixture();
  for (auto& [name, p] : m->named_parameters()) {
    const Tensor& t = f["w." + name];
    EXPECT_EQ(t.shape(), p->shape()) << name;
    p->data().copy_from(t);
  }
  for (auto& [name, b] : m->named_buffers()) {
    const Tensor& t = f["w." + name];
    EXPECT_EQ(t.numel(), b->numel()) << name;
    b->copy_from(t);
  }
  m->eval();
  return m;
}

// max |a - b| / max |b| over the whole tensor (b is the reference).
double rel_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.numel(), b.numel());
  double diff = 0, ref = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
    ref = std::max(ref, std::fabs(double(b[i])));
  }
  return diff / std::max(ref, 1e-30);
}

// Stacks the raw maps of one class slot over the batch: [N, h, w].
Tensor stack_raw(const std::vector<std::vector<Explanation>>& r, size_t slot, bool guided = false) {
  const Tensor& first = guided ? r[0][slot].guided : r[0][slot].raw;
  Shape s = first.shape();
  s.insert(s.begin(), static_cast<int64_t>(r.size()));
  Tensor out = Tensor::empty(s);
  for (size_t n = 0; n < r.size(); ++n) {
    const Tensor& t = guided ? r[n][slot].guided : r[n][slot].raw;
    std::copy(t.data(), t.data() + t.numel(), out.data() + n * first.numel());
  }
  return out;
}

}  // namespace

TEST(ExplainParity, LogitsMatchAndEachImageExplainsItsOwnClass) {
  auto m = load_net();
  const Tensor& x = fixture()["x"];
  {
    NoGradGuard ng;
    const double err = rel_error((*m)(Variable(x)).data(), fixture()["logits"]);
    EXPECT_LE(err, kTol) << "logits";
  }
  // The fixture's images predict classes 0, 1 and 2 (make_gradcam_fixtures.py sees to it), so explaining
  // "the predicted class" must pick each image's own.
  const Tensor& pred = fixture()["pred"];
  ASSERT_EQ(pred.numel(), 3);
  for (int64_t n = 0; n < 3; ++n) ASSERT_EQ(pred[n], static_cast<float>(n)) << "the fixture's image " << n;
  auto r = explain_batch(*m, x, ExplainRequest{});
  for (int64_t n = 0; n < 3; ++n) {
    EXPECT_EQ(r[n][0].class_index, n);
    EXPECT_NEAR(r[n][0].score, fixture()["logits"][n * 3 + n], 1e-4);
  }
}

TEST(ExplainParity, GradientMethodsAllLayersAllClasses) {
  auto m = load_net();
  const Tensor& x = fixture()["x"];
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"gradcam", "gradcam"}, {"gradcampp", "gradcam++"}, {"xgradcam", "xgradcam"},
      {"hirescam", "hirescam"}, {"layercam", "layercam"}, {"cfgradcam", "gradcam"}};
  double worst = 0;
  for (const char* layer : {"relu5_2", "relu4_2", "conv5_2"}) {
    for (const auto& [key, method] : methods) {
      ExplainRequest req;
      req.method = parse_method(method);
      req.layers = {layer};
      req.classes = {0, 1, 2};
      req.counterfactual = key == "cfgradcam";
      auto r = explain_batch(*m, x, req);
      for (size_t c = 0; c < 3; ++c) {
        const std::string name = "raw." + key + "." + layer + ".c" + std::to_string(c);
        const double err = rel_error(stack_raw(r, c), fixture()[name]);
        worst = std::max(worst, err);
        EXPECT_LE(err, kTol) << name;
      }
    }
  }
  std::printf("gradient CAMs: worst relative error %.3g\n", worst);
}

TEST(ExplainParity, EigenCam) {
  auto m = load_net();
  for (const char* layer : {"relu5_2", "relu4_2", "conv5_2"}) {
    ExplainRequest req;
    req.method = CamMethod::EigenCAM;
    req.layers = {layer};
    auto r = explain_batch(*m, fixture()["x"], req);
    const double err = rel_error(stack_raw(r, 0), fixture()[std::string("eigen.") + layer]);
    std::printf("eigencam %s: relative error %.3g\n", layer, err);
    EXPECT_LE(err, kTol) << layer;
  }
}

TEST(ExplainParity, ScoreCam) {
  auto m = load_net();
  ExplainRequest req;
  req.method = CamMethod::ScoreCAM;
  req.layers = {"relu5_2"};
  req.classes = {0, 1, 2};
  req.scorecam_batch = 7;
  auto r = explain_batch(*m, fixture()["x"], req);
  for (size_t c = 0; c < 3; ++c) {
    const double err = rel_error(stack_raw(r, c), fixture()["score.relu5_2.c" + std::to_string(c)]);
    std::printf("scorecam class %zu: relative error %.3g\n", c, err);
    EXPECT_LE(err, kTol);
  }
}

TEST(ExplainParity, FusedLayerCam) {
  auto m = load_net();
  ExplainRequest req;
  req.method = CamMethod::LayerCAM;
  req.layers = {"relu3_2+relu4_2+relu5_2"};
  req.fuse = FuseMode::Max;
  auto r = explain_batch(*m, fixture()["x"], req);
  const double err = rel_error(stack_raw(r, 0), fixture()["fused.max.pred"]);
  std::printf("fused layercam: relative error %.3g\n", err);
  EXPECT_LE(err, kTol);
}

TEST(ExplainParity, GuidedBackprop) {
  auto m = load_net();
  ExplainRequest req;
  req.method = CamMethod::Guided;
  auto r = explain_batch(*m, fixture()["x"], req);
  const double err = rel_error(stack_raw(r, 0, /*guided=*/true), fixture()["guided.pred"]);
  std::printf("guided backprop: relative error %.3g\n", err);
  EXPECT_LE(err, kTol);
  // The same gradient through the shared-forward path of guided Grad-CAM (capture's split backward).
  CaptureOptions opt;
  opt.gradients = true;
  opt.input_gradients = true;
  Capture cap = capture(*m, fixture()["x"], {default_target_layer(*m)}, {}, opt);
  const double err2 = rel_error(cap.input_gradients[0], fixture()["guided.pred"]);
  std::printf("guided backprop (split at relu5_2): relative error %.3g\n", err2);
  EXPECT_LE(err2, kTol);
}

TEST(ExplainParity, GuidedGradCam) {
  auto m = load_net();
  ExplainRequest req;
  req.method = CamMethod::GuidedGradCAM;
  auto r = explain_batch(*m, fixture()["x"], req);
  const double err = rel_error(stack_raw(r, 0, /*guided=*/true), fixture()["guided_gradcam.pred"]);
  std::printf("guided Grad-CAM: relative error %.3g\n", err);
  EXPECT_LE(err, kTol);
  // The same product where another method asks for it alongside its own map (the panels' fourth tile).
  req.method = CamMethod::GradCAM;
  req.with_guided = true;
  r = explain_batch(*m, fixture()["x"], req);
  const double err2 = rel_error(stack_raw(r, 0, /*guided=*/true), fixture()["guided_gradcam.pred"]);
  std::printf("Grad-CAM with guided: relative error %.3g\n", err2);
  EXPECT_LE(err2, kTol);
}
