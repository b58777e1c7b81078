// layers/conv2d: forward, backward-data, backward-weight and bias gradient against a naive direct
// convolution (seven nested loops, in double), finite-difference gradchecks, thread-count independence,
// skipped gradients, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/threading.h"
#include "core/workspace.h"
#include "direct_conv.h"
#include "fixture_reader.h"
#include "gradcheck.h"
#include "layers/conv2d.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

struct Case {
  int64_t N, C, H, W, K, kh, kw;
  int sh, sw, ph, pw;
  bool bias;
};

std::string name(const Case& c) {
  return str("x[", c.N, ",", c.C, ",", c.H, ",", c.W, "] w[", c.K, ",", c.C, ",", c.kh, ",", c.kw, "] stride (",
             c.sh, ",", c.sw, ") pad (", c.ph, ",", c.pw, ")", c.bias ? " bias" : "");
}

// The direct definition (tests/direct_conv.h), for one case: no dilation.
using Reference = ConvReference;

Reference direct_conv(const Case& c, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy) {
  const ConvDims d{c.N, c.C, c.H, c.W, c.K, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, 1, 1};
  return direct_convolution(d, x, w, c.bias ? b : Tensor(), dy);
}

// Float results against a double reference: the error allowed grows with the size of the values.
void expect_close(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << what;
  double scale = 1.0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  int bad = 0;
  for (int64_t i = 0; i < got.numel() && bad < 5; ++i) {
    const double err = std::abs(got[i] - want[i]);
    if (err > 2e-5 * scale + 1e-4 * std::abs(want[i])) {
      ADD_FAILURE() << what << " index " << i << ": got " << got[i] << " want " << want[i];
      ++bad;
    }
  }
}

struct Inputs {
  Tensor x, w, b, dy;
};

Inputs make_inputs(const Case& c, uint64_t seed) {
  Rng rng(seed);
  const int64_t Ho = conv_out_size(c.H, c.kh, c.sh, c.ph), Wo = conv_out_size(c.W, c.kw, c.sw, c.pw);
  Inputs in;
  in.x = random_tensor({c.N, c.C, c.H, c.W}, rng);
  in.w = random_tensor({c.K, c.C, c.kh, c.kw}, rng);
  in.b = c.bias ? random_tensor({c.K}, rng) : Tensor();
  in.dy = random_tensor({c.N, c.K, Ho, Wo}, rng);
  return in;
}

Conv2dOptions options(const Case& c) { return {c.sh, c.sw, c.ph, c.pw}; }

// Runs forward and backward with the gradients asked for; returns y and fills the Variables' grads.
struct ConvRun {
  Variable x, w, b, y;
};

ConvRun run_conv(const Case& c, const Inputs& in, bool grad_x, bool grad_w, bool grad_b) {
  ConvRun r{Variable(in.x, grad_x), Variable(in.w, grad_w), c.bias ? Variable(in.b, grad_b) : Variable(), {}};
  r.y = conv2d(r.x, r.w, r.b, options(c));
  if (r.y.requires_grad()) r.y.backward(in.dy);
  return r;
}

const Case kCases[] = {
    {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, true},      // VGG-style 3x3 pad 1, non-square input
    {3, 2, 8, 8, 5, 3, 3, 2, 2, 1, 1, false},     // stride 2
    {2, 4, 6, 5, 3, 1, 1, 1, 1, 0, 0, true},      // 1x1 (the pointwise path that skips im2col)
    {4, 3, 5, 7, 6, 1, 1, 2, 2, 0, 0, false},     // 1x1 with stride 2 (goes through im2col)
    {1, 2, 9, 11, 3, 5, 5, 1, 1, 2, 2, true},     // 5x5 pad 2, batch 1
    {2, 3, 10, 7, 2, 3, 5, 2, 1, 0, 2, true},     // non-square kernel, stride and padding per axis
    {5, 2, 12, 13, 3, 5, 3, 2, 2, 1, 0, true},    // odd batch, non-square everything
    {1, 1, 3, 3, 2, 3, 3, 1, 1, 0, 0, true},      // kernel as large as the input: one output pixel
    {3, 2, 4, 5, 3, 3, 3, 1, 1, 2, 2, false},     // padding 2 with a 3x3 kernel: rows entirely in padding
    {2, 3, 6, 6, 2, 2, 2, 2, 2, 0, 0, true},      // even kernel, stride = kernel
    {2, 16, 128, 120, 3, 3, 3, 1, 1, 1, 1, true}, // large enough to be unfolded in several bands
    {3, 8, 129, 131, 2, 3, 3, 2, 2, 1, 1, false}, // banded with stride 2 and odd sizes
};

}  // namespace

TEST(Conv2d, ForwardAndBothBackwardsMatchDirectConvolution) {
  uint64_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    Inputs in = make_inputs(c, seed++);
    Reference ref = direct_conv(c, in.x, in.w, in.b, in.dy);
    ConvRun r = run_conv(c, in, true, true, true);
    EXPECT_EQ(r.y.shape(), (Shape{c.N, c.K, conv_out_size(c.H, c.kh, c.sh, c.ph), conv_out_size(c.W, c.kw, c.sw, c.pw)}));
    expect_close(r.y.data(), ref.y, "y");
    ASSERT_TRUE(r.x.has_grad() && r.w.has_grad());
    expect_close(r.x.grad(), ref.dx, "dx");
    expect_close(r.w.grad(), ref.dw, "dW");
    if (c.bias) {
      ASSERT_TRUE(r.b.has_grad());
      expect_close(r.b.grad(), ref.db, "db");
    }
  }
}

TEST(Conv2d, RandomlyDrawnShapesMatchDirectConvolution) {
  Rng rng(2024);
  for (int trial = 0; trial < 40; ++trial) {
    Case c{};
    c.kh = 1 + int64_t(rng.below(5));
    c.kw = 1 + int64_t(rng.below(5));
    c.sh = 1 + int(rng.below(3));
    c.sw = 1 + int(rng.below(3));
    c.ph = int(rng.below(3));
    c.pw = int(rng.below(3));
    c.H = std::max<int64_t>(c.kh - 2 * c.ph, 1) + int64_t(rng.below(9));
    c.W = std::max<int64_t>(c.kw - 2 * c.pw, 1) + int64_t(rng.below(9));
    c.N = 1 + int64_t(rng.below(4));
    c.C = 1 + int64_t(rng.below(4));
    c.K = 1 + int64_t(rng.below(5));
    c.bias = rng.below(2) == 1;
    SCOPED_TRACE(name(c));
    Inputs in = make_inputs(c, 1000 + trial);
    Reference ref = direct_conv(c, in.x, in.w, in.b, in.dy);
    ConvRun r = run_conv(c, in, true, true, true);
    expect_close(r.y.data(), ref.y, "y");
    expect_close(r.x.grad(), ref.dx, "dx");
    expect_close(r.w.grad(), ref.dw, "dW");
    if (c.bias) expect_close(r.b.grad(), ref.db, "db");
  }
}

TEST(Conv2d, EachBackwardPathAloneMatchesReference) {
  // Backward-data only (frozen weight and bias) and backward-weight only (input image) take other branches.
  uint64_t seed = 100;
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    Inputs in = make_inputs(c, seed++);
    Reference ref = direct_conv(c, in.x, in.w, in.b, in.dy);
    ConvRun data_only = run_conv(c, in, true, false, false);
    EXPECT_FALSE(data_only.w.has_grad());
    if (c.bias) {
      EXPECT_FALSE(data_only.b.has_grad());
    }
    expect_close(data_only.x.grad(), ref.dx, "dx alone");
    ConvRun weight_only = run_conv(c, in, false, true, false);
    EXPECT_FALSE(weight_only.x.has_grad());
    expect_close(weight_only.w.grad(), ref.dw, "dW alone");
  }
}

TEST(Conv2d, FrozenWeightGetsNoGradient) {
  const Case c{2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, true};
  Inputs in = make_inputs(c, 7);
  ConvRun r = run_conv(c, in, true, false, true);
  EXPECT_TRUE(r.x.has_grad());
  EXPECT_TRUE(r.b.has_grad());
  EXPECT_FALSE(r.w.has_grad());
}

TEST(Conv2d, InputWithoutRequiresGradGetsNoGradient) {
  const Case c{2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, true};
  Inputs in = make_inputs(c, 8);
  ConvRun r = run_conv(c, in, false, true, true);
  EXPECT_FALSE(r.x.has_grad());
  EXPECT_TRUE(r.w.has_grad());
  EXPECT_TRUE(r.b.has_grad());
}

TEST(Conv2d, NothingRecordedWhenNothingNeedsGradient) {
  const Case c{1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, true};
  Inputs in = make_inputs(c, 9);
  Variable y = conv2d(Variable(in.x), Variable(in.w), Variable(in.b), options(c));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  Variable w(in.w, true);
  NoGradGuard ng;
  EXPECT_FALSE(conv2d(Variable(in.x), w, Variable(), options(c)).requires_grad());
}

TEST(Conv2d, GradcheckWithBiasStrideAndPadding) {
  Rng rng(11);
  for (const Case& c : {Case{2, 2, 5, 6, 3, 3, 3, 2, 2, 1, 1, true}, Case{1, 3, 4, 5, 2, 2, 3, 1, 1, 0, 2, true},
                        Case{2, 3, 3, 4, 2, 1, 1, 1, 1, 0, 0, true}}) {
    SCOPED_TRACE(name(c));
    std::vector<Tensor> vals{random_tensor({c.N, c.C, c.H, c.W}, rng), random_tensor({c.K, c.C, c.kh, c.kw}, rng),
                             random_tensor({c.K}, rng)};
    gradcheck([&](std::vector<Variable>& v) { return conv2d(v[0], v[1], v[2], options(c)); }, vals,
              {true, true, true});
  }
}

TEST(Conv2d, SameResultsForOneAndTwoThreads) {
  // At 2 threads batches 2 and 3 run one image per thread (3 with a partial last wave), each product on one
  // BLAS thread as at 1 thread: they must equal the single-threaded result bit for bit. (Batch 1 uses a
  // threaded BLAS call: the next test.)
  const Case cases[] = {{2, 5, 11, 10, 6, 3, 3, 2, 2, 1, 1, true},
                        {3, 5, 11, 10, 6, 3, 3, 1, 1, 1, 1, true},
                        {3, 4, 7, 7, 5, 1, 1, 1, 1, 0, 0, true},
                        {3, 16, 128, 120, 3, 3, 3, 1, 1, 1, 1, true}};
  const int saved = num_threads();
  uint64_t seed = 200;
  for (const Case& c : cases) {
    SCOPED_TRACE(name(c));
    Inputs in = make_inputs(c, seed++);
    set_num_threads(1);
    ConvRun one = run_conv(c, in, true, true, true);
    set_num_threads(2);
    ConvRun two = run_conv(c, in, true, true, true);
    auto same = [](const Tensor& a, const Tensor& b) {
      return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
    };
    EXPECT_TRUE(same(one.y.data(), two.y.data())) << "y differs";
    EXPECT_TRUE(same(one.x.grad(), two.x.grad())) << "dx differs";
    EXPECT_TRUE(same(one.w.grad(), two.w.grad())) << "dW differs";
    EXPECT_TRUE(same(one.b.grad(), two.b.grad())) << "db differs";
  }
  set_num_threads(saved);
}

// A batch smaller than the thread count uses a multi-threaded BLAS call, which OpenBLAS splits among its
// threads for a product this large: the result is the same up to rounding, not bit for bit (measured: y and
// dW differ in the last bits between 1 and 2 threads). Deterministic for a given thread count.
TEST(Conv2d, BatchOneWithAThreadedBlasAgreesUpToRounding) {
  const Case c{1, 64, 128, 128, 4, 3, 3, 1, 1, 1, 1, true};
  Inputs in = make_inputs(c, 300);
  const int saved = num_threads();
  set_num_threads(1);
  ConvRun one = run_conv(c, in, true, true, true);
  set_num_threads(2);
  ConvRun two = run_conv(c, in, true, true, true);
  ConvRun again = run_conv(c, in, true, true, true);
  set_num_threads(saved);
  // relative_error (fixture_reader.h): max|a - b| / max|b|, its floor set below any value here.
  EXPECT_LT(relative_error(two.y.data(), one.y.data(), 1e-30), 1e-5);
  EXPECT_LT(relative_error(two.x.grad(), one.x.grad(), 1e-30), 1e-5);
  EXPECT_LT(relative_error(two.w.grad(), one.w.grad(), 1e-30), 1e-5);
  EXPECT_EQ(relative_error(again.y.data(), two.y.data(), 1e-30), 0.0);
  EXPECT_EQ(relative_error(again.x.grad(), two.x.grad(), 1e-30), 0.0);
  EXPECT_EQ(relative_error(again.w.grad(), two.w.grad(), 1e-30), 0.0);
}

TEST(Conv2d, UsesBoundedSharedWorkspace) {
  // The cols buffer comes from the shared workspace, is unfolded in bounded bands, and is reused: one image
  // of VGG's second layer would need 115 MB of cols, yet all workspaces together stay well below that, and a
  // second call allocates nothing more.
  const Case c{2, 64, 224, 224, 2, 3, 3, 1, 1, 1, 1, false};
  Inputs in = make_inputs(c, 300);
  run_conv(c, in, true, true, false);
  const size_t after_first = scratch_bytes();
  run_conv(c, in, true, true, false);
  EXPECT_EQ(scratch_bytes(), after_first);
  const size_t one_image_cols = size_t(c.C) * c.kh * c.kw * c.H * c.W * sizeof(float);
  EXPECT_LT(after_first, one_image_cols / 2);
}

TEST(Conv2d, ErrorsNameTheShapes) {
  auto message = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  Variable x(Tensor::zeros({2, 3, 5, 5})), w4(Tensor::zeros({4, 4, 3, 3})), w3(Tensor::zeros({4, 3, 3, 3}));
  std::string m = message([&] { conv2d(x, w4, Variable()); });
  EXPECT_NE(m.find("[2, 3, 5, 5]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 4, 3, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("channels"), std::string::npos) << m;

  m = message([&] { conv2d(Variable(Tensor::zeros({3, 5, 5})), w3, Variable()); });
  EXPECT_NE(m.find("[3, 5, 5]"), std::string::npos) << m;
  m = message([&] { conv2d(x, Variable(Tensor::zeros({4, 3, 3})), Variable()); });
  EXPECT_NE(m.find("[4, 3, 3]"), std::string::npos) << m;

  m = message([&] { conv2d(x, Variable(Tensor::zeros({4, 3, 7, 3})), Variable()); });  // 7 > 5 + 2*0
  EXPECT_NE(m.find("larger than the padded input"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 5, 5]"), std::string::npos) << m;
  EXPECT_NO_THROW(conv2d(x, Variable(Tensor::zeros({4, 3, 7, 3})), Variable(), {1, 1, 1, 0}));  // 7 <= 5 + 2

  m = message([&] { conv2d(Variable(Tensor::zeros({0, 3, 5, 5})), w3, Variable()); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
  EXPECT_NE(m.find("[0, 3, 5, 5]"), std::string::npos) << m;
  m = message([&] { conv2d(x, Variable(Tensor::zeros({0, 3, 3, 3})), Variable()); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;

  m = message([&] { conv2d(x, w3, Variable(Tensor::zeros({5}))); });
  EXPECT_NE(m.find("bias [5]"), std::string::npos) << m;
  m = message([&] { conv2d(x, w3, Variable(), {0, 1, 0, 0}); });
  EXPECT_NE(m.find("stride"), std::string::npos) << m;
}
