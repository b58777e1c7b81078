// Winograd F(2x2, 3x3) convolution (layers/winograd.h) through conv2d: forward, backward-data and the weight
// gradient against the direct definition in double (tests/direct_conv.h) and against im2col, on odd sizes and
// on VGG-16's layer shapes at 224 px; finite differences; bit-identical results for 1, 2 and 3 threads; the
// --conv choice (layers/conv_algo.h); and, through a whole model, Grad-CAM maps and a few training steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/rng.h"
#include "core/threading.h"
#include "direct_conv.h"
#include "error_of.h"
#include "explain/cam.h"
#include "gradcheck.h"
#include "layers/conv2d.h"
#include "layers/loss.h"
#include "layers/optim.h"
#include "layers/winograd.h"
#include "models/model.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

Conv2dOptions same3x3(ConvAlgo algo) {
  Conv2dOptions o;
  o.pad_h = o.pad_w = 1;
  o.algo = algo;
  return o;
}

struct ConvRun {
  Variable x, w, b, y;
};

// conv2d 3x3 / stride 1 / padding 1 with `algo`, then backward of sum(y * dy).
ConvRun run(ConvAlgo algo, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  ConvRun r{Variable(x.clone(), true), Variable(w.clone(), true), Variable(b.clone(), true), Variable()};
  r.y = conv2d(r.x, r.w, r.b, same3x3(algo));
  sum(mul(r.y, Variable(dy))).backward();
  return r;
}

// max |got - want| / max |want|: the error relative to the tensor's scale.
double rel_error(const Tensor& got, const std::vector<double>& want) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::abs(double(got[static_cast<int64_t>(i)]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return err / std::max(scale, 1e-30);
}
double rel_error(const Tensor& got, const Tensor& want) {
  return rel_error(got, std::vector<double>(want.data(), want.data() + want.numel()));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

}  // namespace

TEST(Winograd, OddAndEvenSizesMatchDirectConvolution) {
  // H, W odd and even from 1 to 9 (edge tiles half outside the image), C and K of no particular multiple,
  // batches of 1 to 3 (tiles of several images share one block of products).
  struct Dims { int64_t N, C, H, W, K; };
  const Dims cases[] = {{1, 1, 1, 1, 1}, {2, 3, 1, 7, 2}, {1, 5, 2, 2, 3}, {3, 7, 5, 3, 5}, {2, 4, 9, 8, 7},
                        {1, 13, 6, 9, 11}, {2, 17, 7, 7, 19}, {1, 2, 8, 1, 4}};
  Rng rng(5);
  for (const Dims& d : cases) {
    SCOPED_TRACE(::testing::Message() << "N" << d.N << " C" << d.C << " " << d.H << "x" << d.W << " K" << d.K);
    const Tensor x = random_tensor({d.N, d.C, d.H, d.W}, rng), w = random_tensor({d.K, d.C, 3, 3}, rng),
                 b = random_tensor({d.K}, rng), dy = random_tensor({d.N, d.K, d.H, d.W}, rng);
    ConvDims cd{d.N, d.C, d.H, d.W, d.K, 3, 3};
    cd.ph = cd.pw = 1;
    const ConvReference ref = direct_convolution(cd, x, w, b, dy);
    const ConvRun wg = run(ConvAlgo::winograd, x, w, b, dy), ic = run(ConvAlgo::im2col, x, w, b, dy);
    EXPECT_LT(rel_error(wg.y.data(), ref.y), 1e-5) << "y";
    EXPECT_LT(rel_error(wg.x.grad(), ref.dx), 1e-5) << "dx";
    EXPECT_LT(rel_error(wg.w.grad(), ref.dw), 1e-5) << "dW";
    EXPECT_LT(rel_error(wg.b.grad(), ref.db), 1e-5) << "db";
    EXPECT_LT(rel_error(wg.y.data(), ic.y.data()), 1e-5) << "y vs im2col";
    EXPECT_LT(rel_error(wg.x.grad(), ic.x.grad()), 1e-5) << "dx vs im2col";
  }
}

TEST(Winograd, GradcheckThroughConv2d) {
  Rng rng(9);
  for (auto [N, C, H, W, K] : {std::array<int64_t, 5>{2, 3, 5, 4, 2}, std::array<int64_t, 5>{1, 2, 3, 6, 3}}) {
    std::vector<Tensor> vals{random_tensor({N, C, H, W}, rng), random_tensor({K, C, 3, 3}, rng),
                             random_tensor({K}, rng)};
    gradcheck([&](std::vector<Variable>& v) { return conv2d(v[0], v[1], v[2], same3x3(ConvAlgo::winograd)); }, vals,
              {true, true, true});
  }
}

TEST(Winograd, BitIdenticalForOneTwoAndThreeThreads) {
  // Batch 1 (one image must keep every thread busy: the transforms split over channels x tiles) and batch 3;
  // sizes where the tiles span several blocks of products (winograd_block_tiles) with a partial last one.
  const int saved = num_threads();
  Rng rng(21);
  struct Dims { int64_t N, C, H, W, K; };
  for (const Dims& d : {Dims{1, 600, 41, 41, 8}, Dims{3, 600, 23, 25, 5}}) {
    SCOPED_TRACE(::testing::Message() << "N" << d.N << " C" << d.C << " K" << d.K);
    ASSERT_GT(d.N * ((d.H + 1) / 2) * ((d.W + 1) / 2), winograd_block_tiles(d.C, d.K)) << "should span blocks";
    const Tensor x = random_tensor({d.N, d.C, d.H, d.W}, rng), w = random_tensor({d.K, d.C, 3, 3}, rng),
                 b = random_tensor({d.K}, rng), dy = random_tensor({d.N, d.K, d.H, d.W}, rng);
    set_num_threads(1);
    const ConvRun one = run(ConvAlgo::winograd, x, w, b, dy);
    for (int t : {2, 3}) {
      set_num_threads(t);
      const ConvRun more = run(ConvAlgo::winograd, x, w, b, dy);
      EXPECT_TRUE(same_bits(one.y.data(), more.y.data())) << "y differs at " << t << " threads";
      EXPECT_TRUE(same_bits(one.x.grad(), more.x.grad())) << "dx differs at " << t << " threads";
      // dW is im2col's, bit-identical where the batch splits over images (conv2d.h); at batch 1 OpenBLAS
      // splits the product itself (tests/test_conv.cpp, BatchOneWithAThreadedBlasAgreesUpToRounding).
      if (d.N >= t) {
        EXPECT_TRUE(same_bits(one.w.grad(), more.w.grad())) << "dW differs at " << t << " threads";
      }
    }
  }
  set_num_threads(saved);
}

// VGG-16's 13 convolutions at 224 px, one image, every input channel (the error grows with the length of
// the sums, C * 9) and 8 output channels (the error of one output does not depend on how many others there
// are). Inputs like a network's: ReLU'd, spatially smooth, 40 % zeros; weights He-uniform. Winograd and
// im2col are both compared with the direct convolution in double at 3000 sampled outputs and input gradients,
// and with each other everywhere. Prints max and median relative errors (docs/WINOGRAD.md's table).
TEST(Winograd, Vgg16LayerShapesAt224StayWithinBound) {
  struct Layer { const char* name; int64_t C, S; };
  const Layer layers[] = {{"conv1_2", 64, 224},  {"conv2_1", 64, 112},  {"conv2_2", 128, 112}, {"conv3_1", 128, 56},
                          {"conv3_2", 256, 56},  {"conv3_3", 256, 56},  {"conv4_1", 256, 28},  {"conv4_2", 512, 28},
                          {"conv4_3", 512, 28},  {"conv5_1", 512, 14},  {"conv5_2", 512, 14},  {"conv5_3", 512, 14}};
  const int64_t K = 8;
  std::printf("%-8s %5s %4s | %-23s | %-23s | %s\n", "layer", "C", "S", "y: wino max / median", "y: im2col max / median",
              "dx: wino / im2col max, wino vs im2col y dx");
  for (const Layer& l : layers) {
    const int64_t index = &l - layers;
#ifdef CXR_SANITIZE
    if (l.S == 224) continue;  // 8x slower under ASan; conv1_2 is the same code at a larger size
#endif
    SCOPED_TRACE(l.name);
    Rng rng(100 + index);
    const int64_t C = l.C, S = l.S;
    Tensor x = Tensor::empty({1, C, S, S});
    for (int64_t c = 0; c < C; ++c) {  // a smooth field per channel (sum of two random waves), ReLU'd
      const float a = rng.uniform(0.05f, 0.5f), bb = rng.uniform(0.05f, 0.5f), ph = rng.uniform(0, 6.28f),
                  off = rng.uniform(-0.6f, 0.2f), amp = rng.uniform(0.5f, 2.0f);
      for (int64_t i = 0; i < S * S; ++i) {
        const float v = amp * (std::sin(a * float(i / S) + ph) * std::cos(bb * float(i % S)) + off) +
                        0.1f * rng.uniform(-1.0f, 1.0f);
        x[c * S * S + i] = std::max(v, 0.0f);
      }
    }
    const float he = std::sqrt(6.0f / float(9 * C));
    const Tensor w = random_tensor({K, C, 3, 3}, rng, -he, he), b = random_tensor({K}, rng, -0.1f, 0.1f);
    const Tensor dy = random_tensor({1, K, S, S}, rng);
    const ConvRun wg = run(ConvAlgo::winograd, x, w, b, dy), ic = run(ConvAlgo::im2col, x, w, b, dy);

    // The direct sums in double, at sampled positions.
    auto y_at = [&](int64_t k, int64_t h, int64_t v) {
      double s = b[k];
      for (int64_t c = 0; c < C; ++c)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            const int64_t hh = h - 1 + i, ww = v - 1 + j;
            if (hh >= 0 && hh < S && ww >= 0 && ww < S) s += double(w[((k * C + c) * 3 + i) * 3 + j]) * x[(c * S + hh) * S + ww];
          }
      return s;
    };
    auto dx_at = [&](int64_t c, int64_t h, int64_t v) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            const int64_t oh = h + 1 - i, ow = v + 1 - j;
            if (oh >= 0 && oh < S && ow >= 0 && ow < S) s += double(w[((k * C + c) * 3 + i) * 3 + j]) * dy[(k * S + oh) * S + ow];
          }
      return s;
    };
    struct Errors { std::vector<double> rel; double scale = 0; };
    Errors ey_w, ey_i, edx_w, edx_i;
    std::vector<double> ry, rdx;
    std::vector<float> gy_w, gy_i, gdx_w, gdx_i;
    Rng pick(7);
    for (int s = 0; s < 3000; ++s) {
      const int64_t h = s < 8 ? (s % 2) * (S - 1) : int64_t(pick.uniform(0, float(S))) % S;  // corners too
      const int64_t v = s < 8 ? (s / 2 % 2) * (S - 1) : int64_t(pick.uniform(0, float(S))) % S;
      const int64_t k = s % K, c = int64_t(pick.uniform(0, float(C))) % C;
      ry.push_back(y_at(k, h, v));
      gy_w.push_back(wg.y.data()[(k * S + h) * S + v]);
      gy_i.push_back(ic.y.data()[(k * S + h) * S + v]);
      rdx.push_back(dx_at(c, h, v));
      gdx_w.push_back(wg.x.grad()[(c * S + h) * S + v]);
      gdx_i.push_back(ic.x.grad()[(c * S + h) * S + v]);
    }
    // Relative to the layer's largest |value| (max), and median of |err| / |value| over values above 1 % of it.
    auto stats = [](const std::vector<float>& got, const std::vector<double>& want) {
      double scale = 0, worst = 0;
      for (double v : want) scale = std::max(scale, std::abs(v));
      std::vector<double> rel;
      for (size_t i = 0; i < want.size(); ++i) {
        const double e = std::abs(double(got[i]) - want[i]);
        worst = std::max(worst, e);
        if (std::abs(want[i]) > 0.01 * scale) rel.push_back(e / std::abs(want[i]));
      }
      std::nth_element(rel.begin(), rel.begin() + rel.size() / 2, rel.end());
      return std::pair<double, double>{worst / scale, rel.empty() ? 0.0 : rel[rel.size() / 2]};
    };
    const auto [yw_max, yw_med] = stats(gy_w, ry);
    const auto [yi_max, yi_med] = stats(gy_i, ry);
    const auto [dw_max, dw_med] = stats(gdx_w, rdx);
    const auto [di_max, di_med] = stats(gdx_i, rdx);
    const double y_vs = rel_error(wg.y.data(), ic.y.data()), dx_vs = rel_error(wg.x.grad(), ic.x.grad());
    const double dW_vs = rel_error(wg.w.grad(), ic.w.grad());
    std::printf("%-8s %5lld %4lld | %9.2e / %9.2e | %9.2e / %9.2e | %9.2e / %9.2e, %9.2e %9.2e\n", l.name,
                (long long)C, (long long)S, yw_max, yw_med, yi_max, yi_med, dw_max, di_max, y_vs, dx_vs);
    (void)dw_med;
    (void)di_med;
    EXPECT_LT(yw_max, 1e-5) << "Winograd y against the exact sum";
    EXPECT_LT(dw_max, 1e-5) << "Winograd dx against the exact sum";
    EXPECT_LT(y_vs, 1e-4) << "Winograd y against im2col";
    EXPECT_LT(dx_vs, 1e-4) << "Winograd dx against im2col";
    EXPECT_EQ(dW_vs, 0.0) << "the weight gradient is im2col's in both";
  }
}

TEST(Winograd, ChoiceFollowsShapeAndOption) {
  const ConvShape vgg{1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1}, first{1, 3, 224, 224, 64, 3, 3, 1, 1, 1, 1},
      strided{1, 64, 56, 56, 64, 3, 3, 2, 2, 1, 1}, five{1, 64, 56, 56, 64, 5, 5, 1, 1, 2, 2};
  EXPECT_EQ(resolve_conv_algo(ConvAlgo::im2col, vgg), ConvAlgo::im2col);
  EXPECT_EQ(resolve_conv_algo(ConvAlgo::winograd, vgg), ConvAlgo::winograd);
  for (const ConvShape& s : {first, strided, five}) {
    EXPECT_EQ(resolve_conv_algo(ConvAlgo::winograd, s), ConvAlgo::im2col);
    EXPECT_EQ(resolve_conv_algo(ConvAlgo::automatic, s), ConvAlgo::im2col);
  }
  forget_conv_algos();
  EXPECT_EQ(resolve_conv_algo(ConvAlgo::automatic, vgg), ConvAlgo::automatic) << "not timed yet";
  // A forward under automatic times both and remembers the pick, for this shape and thread count.
  Rng rng(3);
  const Tensor x = random_tensor({1, 64, 56, 56}, rng), w = random_tensor({64, 64, 3, 3}, rng);
  Conv2dOptions o = same3x3(ConvAlgo::automatic);
  const Variable y = conv2d(Variable(x), Variable(w), Variable(), o);
  const ConvAlgo picked = resolve_conv_algo(ConvAlgo::automatic, vgg);
  EXPECT_TRUE(picked == ConvAlgo::im2col || picked == ConvAlgo::winograd);
  const Variable again = conv2d(Variable(x), Variable(w), Variable(), same3x3(picked));
  EXPECT_TRUE(same_bits(y.data(), again.data())) << "automatic returns the output of the algorithm it picked";
  forget_conv_algos();

  EXPECT_EQ(parse_conv_algo("Winograd"), ConvAlgo::winograd);
  EXPECT_EQ(parse_conv_algo("auto"), ConvAlgo::automatic);
  EXPECT_NE(error_of([] { parse_conv_algo("fft"); }).find("auto | im2col | winograd"), std::string::npos);
  Conv2dOptions bad = same3x3(ConvAlgo::winograd);
  bad.stride_h = 2;
  EXPECT_NE(error_of([&] { conv2d(Variable(x), Variable(w), Variable(), bad); }).find("Winograd needs a 3x3"),
            std::string::npos);
}

namespace {

// A small VGG-11 whose convolutions after the first have >= 16 input channels (kWinogradMinChannels).
std::shared_ptr<Model> small_vgg() {
  ModelConfig c;
  c.arch = "vgg11";
  c.width = 0.25f;
  c.input_size = 32;
  c.num_classes = 3;
  c.head = "gap";
  c.seed = 4;
  return make_model(c);
}

struct ProcessAlgo {  // sets the process-wide choice for a scope
  explicit ProcessAlgo(ConvAlgo a) : saved(conv_algo()) { set_conv_algo(a); }
  ~ProcessAlgo() { set_conv_algo(saved); }
  ConvAlgo saved;
};

}  // namespace

TEST(Winograd, GradCamMapsMatchIm2col) {
  auto m = small_vgg();
  m->eval();
  Rng rng(8);
  const Tensor x = random_tensor({2, 3, 32, 32}, rng);
  ExplainRequest req;
  req.layers = {"features.15"};  // a ReLU at 4x4 behind 7 convolutions, 6 of them Winograd
  auto maps = [&](ConvAlgo a) {
    ProcessAlgo scope(a);
    return explain_batch(*m, x, req);
  };
  const auto wg = maps(ConvAlgo::winograd), ic = maps(ConvAlgo::im2col);
  for (size_t n = 0; n < 2; ++n) {
    EXPECT_EQ(wg[n][0].class_index, ic[n][0].class_index);
    EXPECT_GT(rel_error(wg[n][0].raw, ic[n][0].raw), 0.0) << "Winograd did not run: the maps are the same bits";
    EXPECT_LT(rel_error(wg[n][0].raw, ic[n][0].raw), 1e-4) << "image " << n;
  }
}

TEST(Winograd, TrainingFollowsIm2col) {
  // Ten SGD steps on one batch (learnt by heart): the losses and the weights stay within rounding of
  // im2col's. The runs drift apart by each step's rounding, amplified by training; 1e-4 relative after 10
  // steps holds that and is far below what a wrong gradient does to a step. The losses alone may agree
  // bit for bit (near log 3, a difference of 1e-9 in the logits is below a float's resolution), so the
  // weights are compared too and must not be the same bits.
  struct Result {
    std::vector<double> losses;
    std::vector<Tensor> weights;
  };
  auto train = [](ConvAlgo a) {
    ProcessAlgo scope(a);
    auto m = small_vgg();
    m->train();
    SGD opt(m->named_parameters(), 0.02f, SGDOptions{0.9f});
    Rng rng(12);
    const Tensor x = random_tensor({4, 3, 32, 32}, rng);
    const std::vector<int> y{0, 1, 2, 1};
    Result r;
    for (int step = 0; step < 10; ++step) {
      opt.zero_grad();
      Variable loss = cross_entropy(m->forward(Variable(x)), y);
      loss.backward();
      opt.step();
      r.losses.push_back(loss.data()[0]);
    }
    for (auto& [name, v] : m->named_parameters()) r.weights.push_back(v->data().clone());
    return r;
  };
  const Result wg = train(ConvAlgo::winograd), ic = train(ConvAlgo::im2col);
  EXPECT_LT(wg.losses.back(), wg.losses.front() - 0.05) << "learns";
  for (size_t i = 0; i < wg.losses.size(); ++i)
    EXPECT_NEAR(wg.losses[i], ic.losses[i], 1e-4 * std::abs(ic.losses[i])) << "step " << i;
  bool any_differs = false;
  for (size_t i = 0; i < wg.weights.size(); ++i) {
    EXPECT_LT(rel_error(wg.weights[i], ic.weights[i]), 1e-4) << "parameter " << i;
    any_differs = any_differs || !same_bits(wg.weights[i], ic.weights[i]);
  }
  EXPECT_TRUE(any_differs) << "Winograd did not run: the weights are the same bits";
}
