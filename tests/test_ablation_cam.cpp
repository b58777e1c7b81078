// explain/ablation_cam.cpp: Ablation-CAM against its closed form under a GAP + linear head, and against a naive
// reference (zero one channel, rerun the head, one forward per channel) under a head with convolutions,
// batch-norm and ReLUs; batching, class sharing and the method's plumbing through explain_batch.
#include <gtest/gtest.h>

#include <cmath>

#include "explain/cam.h"
#include "gradcheck.h"
#include "models/model.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

std::shared_ptr<Model> tiny_vgg(int size, const std::string& head, bool bn) {
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = bn;
  c.width = 0.0625f;
  c.input_size = size;
  c.head = head;
  c.seed = 7;
  auto m = make_model(c);
  m->eval();
  return m;
}

// The target layer's activation of image 0, [C, h, w].
Tensor activation_of(Model& m, const Tensor& x, const LayerInfo& layer) {
  CaptureOptions opt;
  opt.gradients = false;
  Capture cap = capture(m, x, {layer}, {}, opt);
  const Tensor& a = cap.activations[0];
  return a.slice(0, 1).reshape({a.size(1), a.size(2), a.size(3)}).clone();
}

}  // namespace

TEST(AblationCam, GapLinearHeadHasClosedFormWeights) {
  // Head: y_c = sum_k V[c, k] mean(A_k) + b_c. Zeroing channel k removes exactly V[c, k] mean(A_k), so
  // w_k = V[c, k] mean(A_k) / y_c: computed here in double from the classifier's weights alone.
  // The target is pool5 (relu5_2 would put a max-pool between A and the average): [32, 2, 2] at 64 px.
  auto m = tiny_vgg(64, "gap", false);
  Rng rng(21);
  const Tensor x = random_tensor({1, 3, 64, 64}, rng);
  const LayerInfo layer = resolve_layer(*m, "pool5");
  const Tensor A = activation_of(*m, x, layer);
  const Tensor A0 = A.clone();
  const int64_t C = A.size(0), hw = A.size(1) * A.size(2);
  auto* fc = dynamic_cast<Linear*>(m->classifier->children().back().second.get());
  ASSERT_NE(fc, nullptr);
  ASSERT_EQ(fc->weight.shape(), (Shape{3, C}));
  const std::vector<int> classes{0, 1, 2};
  const AblationCamResult r = ablation_cam(*m, layer, A, classes, /*batch=*/8);

  int64_t live = 0;
  for (int64_t k = 0; k < C; ++k) {
    bool any = false;
    for (int64_t i = 0; i < hw; ++i) any = any || A[k * hw + i] != 0.0f;
    live += any;
  }
  EXPECT_EQ(r.head_forwards, (live + 1 + 7) / 8) << "A itself and the live channels, 8 per head forward";
  ASSERT_EQ(r.weights.size(), 3u);
  for (size_t ci = 0; ci < 3; ++ci) {
    const int c = classes[ci];
    std::vector<double> term(static_cast<size_t>(C));
    double y = fc->bias.data()[c], mass = 0;
    for (int64_t k = 0; k < C; ++k) {
      double mean = 0;
      for (int64_t i = 0; i < hw; ++i) mean += A[k * hw + i];
      term[static_cast<size_t>(k)] = fc->weight.data()[c * C + k] * mean / static_cast<double>(hw);
      y += term[static_cast<size_t>(k)];
      mass += std::abs(term[static_cast<size_t>(k)]);
    }
    ASSERT_GT(std::abs(y), 1e-3) << "class " << c << ": pick another seed, the score is too close to 0";
    EXPECT_NEAR(r.scores[ci], y, 1e-5 * (1 + mass));
    const double tol = 1e-5 * (1 + mass) / std::abs(y);
    for (int64_t k = 0; k < C; ++k)
      EXPECT_NEAR(r.weights[ci][k], term[static_cast<size_t>(k)] / y, tol) << "class " << c << " channel " << k;
    for (int64_t i = 0; i < hw; ++i) {
      double want = 0;
      for (int64_t k = 0; k < C; ++k) want += term[static_cast<size_t>(k)] / y * A[k * hw + i];
      EXPECT_NEAR(r.raws[ci][i], want, tol * 10) << "class " << c << " position " << i;
    }
  }
  for (int64_t i = 0; i < A.numel(); ++i) ASSERT_EQ(A[i], A0[i]) << "the activation was changed";
}

TEST(AblationCam, MatchesZeroingEachChannelAndRerunningTheHead) {
  // relu3_1 of a batch-norm VGG-11: the head above it has conv3_2 and two more blocks, pools, the
  // torchvision classifier (ReLUs, dropout off in eval). Reference: one plain head forward per channel.
  auto m = tiny_vgg(64, "torchvision", true);
  Rng rng(22);
  const Tensor x = random_tensor({2, 3, 64, 64}, rng);
  const LayerInfo layer = resolve_layer(*m, "relu3_1");
  const std::vector<int> classes{2, 0};

  ExplainRequest req;
  req.method = CamMethod::AblationCAM;
  req.layers = {"relu3_1"};
  req.classes = classes;
  req.ablation_batch = 5;  // A itself and up to 16 live channels: chunks of 5
  const auto res = explain_batch(*m, x, req);
  ASSERT_EQ(res.size(), 2u);

  NoGradGuard no_grad;
  for (int64_t n = 0; n < 2; ++n) {
    const Tensor A = activation_of(*m, x.slice(n, n + 1), layer);
    const int64_t C = A.size(0), hw = A.size(1) * A.size(2);
    auto head = [&](const Tensor& a) {
      return m->forward_after(layer.position, Variable(a.reshape({1, C, A.size(1), A.size(2)}))).data();
    };
    const Tensor y = head(A);  // [1, K]
    const AblationCamResult r = ablation_cam(*m, layer, A, classes, 5);
    for (size_t ci = 0; ci < classes.size(); ++ci) {
      const float yc = y[classes[ci]];
      ASSERT_GT(std::abs(yc), 1e-3f);
      Tensor raw = Tensor::zeros({A.size(1), A.size(2)});
      for (int64_t k = 0; k < C; ++k) {
        Tensor off = A.clone();
        for (int64_t i = 0; i < hw; ++i) off[k * hw + i] = 0.0f;
        const float want = (yc - head(off)[classes[ci]]) / yc;
        EXPECT_NEAR(r.weights[ci][k], want, 2e-4f * (1 + std::abs(want))) << "image " << n << " channel " << k;
        for (int64_t i = 0; i < hw; ++i) raw[i] += want * A[k * hw + i];
      }
      const Explanation& e = res[static_cast<size_t>(n)][ci];
      EXPECT_EQ(e.class_index, classes[ci]);
      EXPECT_EQ(e.method, CamMethod::AblationCAM);
      ASSERT_EQ(e.raw.shape(), raw.shape());
      float scale = 0;
      for (int64_t i = 0; i < raw.numel(); ++i) scale = std::max(scale, std::abs(raw[i]));
      for (int64_t i = 0; i < raw.numel(); ++i)
        EXPECT_NEAR(e.raw[i], raw[i], 1e-3f * scale) << "image " << n << " position " << i;
      const Tensor map = normalize_map(e.raw);
      for (int64_t i = 0; i < map.numel(); ++i) EXPECT_EQ(e.map[i], map[i]);
    }
  }
}

TEST(AblationCam, NamesAndOptions) {
  EXPECT_EQ(parse_method("ablation-cam"), CamMethod::AblationCAM);
  EXPECT_EQ(parse_method("AblationCAM"), CamMethod::AblationCAM);
  EXPECT_STREQ(method_name(CamMethod::AblationCAM), "ablationcam");
  EXPECT_FALSE(uses_gradients(CamMethod::AblationCAM));
  auto m = tiny_vgg(32, "gap", false);
  Rng rng(23);
  const Tensor x = random_tensor({1, 3, 32, 32}, rng);
  ExplainRequest req;
  req.method = CamMethod::AblationCAM;
  req.counterfactual = true;
  EXPECT_THROW(explain_batch(*m, x, req), Error) << "no gradients, so no counterfactual";
  req.counterfactual = false;
  req.ablation_batch = 0;
  EXPECT_THROW(explain_batch(*m, x, req), Error);
}
