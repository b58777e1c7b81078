// layers/ (everything but convolution and pooling): linear, relu, dropout, flatten, batch_norm2d,
// log_softmax, softmax, cross_entropy and the layer modules. Forwards are compared with naive loops
// written here, backwards with finite differences (tests/gradcheck.h), errors by their messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/modules.h"

using namespace cxr;
using namespace cxr::testing;

// Expects `f` to throw a cxr::Error whose message contains every one of `parts`.
template <typename F>
static void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// Values in [-1, 1] at least `gap` away from 0, so a finite difference never steps across relu's kink.
static Tensor away_from_zero(const Shape& s, Rng& rng, float gap = 0.05f) {
  Tensor t = random_tensor(s, rng);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = t[i] < 0 ? t[i] - gap : t[i] + gap;
  return t;
}

// ---- linear ------------------------------------------------------------------------------------------

static Tensor naive_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  int64_t n = x.size(0), in = x.size(1), out = w.size(0);
  Tensor y = Tensor::empty({n, out});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t k = 0; k < in; ++k) s += double(x[i * in + k]) * w[o * in + k];
      y[i * out + o] = float(s);
    }
  return y;
}

TEST(Linear, ForwardMatchesNaiveForBatchOneAndMany) {
  Rng rng(1);
  Tensor w = random_tensor({7, 5}, rng), b = random_tensor({7}, rng);
  for (int64_t n : {1, 4}) {
    Tensor x = random_tensor({n, 5}, rng);
    Tensor y = linear(Variable(x), Variable(w), Variable(b)).data();
    Tensor ref = naive_linear(x, w, b);
    ASSERT_EQ(y.shape(), ref.shape());
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-5) << "batch " << n << " index " << i;
  }
}

TEST(Linear, Gradcheck) {
  Rng rng(2);
  for (int64_t n : {1, 3}) {
    Tensor x = random_tensor({n, 6}, rng), w = random_tensor({4, 6}, rng), b = random_tensor({4}, rng);
    auto f = [](auto& v) { return linear(v[0], v[1], v[2]); };
    gradcheck(f, {x, w, b}, {true, true, true});
    // Only some gradients wanted (frozen weight; input image): the others must stay untouched.
    gradcheck(f, {x, w, b}, {true, false, false});
    gradcheck(f, {x, w, b}, {false, true, true});
  }
}

TEST(Linear, OnlyNeededGradientsAreComputed) {
  Rng rng(3);
  Variable x(random_tensor({2, 3}, rng), false), w(random_tensor({4, 3}, rng), true), b(random_tensor({4}, rng), false);
  sum(linear(x, w, b)).backward();
  EXPECT_TRUE(w.has_grad());
  EXPECT_FALSE(x.has_grad());
  EXPECT_FALSE(b.has_grad());
}

TEST(Linear, ShapeErrorsNameTheShapes) {
  Variable x(Tensor::zeros({2, 5})), w(Tensor::zeros({4, 6})), b(Tensor::zeros({4}));
  expect_error([&] { linear(x, w, b); }, {"[2, 5]", "[4, 6]"});
  expect_error([&] { linear(Variable(Tensor::zeros({2, 6})), w, Variable(Tensor::zeros({3}))); }, {"[3]", "[4, 6]"});
  expect_error([&] { linear(Variable(Tensor::zeros({2, 2, 6})), w, b); }, {"[2, 2, 6]"});
  expect_error([&] { linear(Variable(Tensor::zeros({0, 6})), w, b); }, {"empty", "[0, 6]"});
}

// ---- relu / guided relu ---------------------------------------------------------------------------------

TEST(ReLU, ForwardAndGradcheck) {
  Rng rng(4);
  Tensor x = away_from_zero({3, 70}, rng);  // 210 elements: more than three 64-bit mask words
  Tensor y = relu(Variable(x)).data();
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y[i], x[i] > 0 ? x[i] : 0.0f);
  gradcheck([](auto& v) { return relu(v[0]); }, {x}, {true});
}

TEST(ReLU, InplaceOverwritesOnlyWhatNobodyElseHolds) {
  Rng rng(8);
  const Tensor a0 = random_tensor({2, 3, 5, 5}, rng);
  auto grad_of_a = [&](bool inplace, int holder) {
    Variable a(a0.clone(), true);
    Variable b = scale(a, 2.0f);  // a fresh value: only `b` holds it
    Variable keep, other;
    if (holder == 1) keep = b;                // a second handle
    if (holder == 2) other = mul(b, b);       // a recorded consumer
    const Tensor before = b.data().clone();
    Variable y = ReLU(inplace)(b);
    const bool shared = y.data().shares_storage_with(b.data());
    EXPECT_EQ(shared, inplace && holder == 0) << "inplace " << inplace << ", holder " << holder;
    for (int64_t i = 0; i < y.numel(); ++i) {
      EXPECT_EQ(y.data()[i], std::max(before[i], 0.0f));
      if (!shared) {
        EXPECT_EQ(b.data()[i], before[i]) << "the input was overwritten while held";
      }
    }
    Variable loss = sum(mul(y, Variable(a0)));
    if (holder == 2) loss = add(loss, sum(other));
    loss.backward();
    return a.grad().clone();
  };
  for (int holder : {0, 1, 2}) {
    const Tensor want = grad_of_a(false, holder), got = grad_of_a(true, holder);
    for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got[i], want[i]) << "holder " << holder << " [" << i << "]";
  }
  // In a Sequential the network's input has two handles (the caller's and the loop's): never overwritten.
  Sequential seq;
  seq.add(std::make_shared<ReLU>(true));
  Variable image(a0.clone(), false);
  Variable r = seq(image);
  EXPECT_FALSE(r.data().shares_storage_with(image.data()));
  for (int64_t i = 0; i < a0.numel(); ++i) ASSERT_EQ(image.data()[i], a0[i]);  // half of them negative
}

TEST(ReLU, NaNPassesThroughForwardAndBackwardAsInPyTorch) {
  // torch.relu(x) keeps a NaN, and its backward (threshold_backward on the output) passes the gradient
  // wherever the output is not <= 0, so also at a NaN.
  Variable x(Tensor::from({1, -1, NAN, 0}, {4}), true);
  Variable y = relu(x);
  EXPECT_TRUE(std::isnan(y.data()[2]));
  y.backward(Tensor::from({2, 3, 4, 5}, {4}));
  EXPECT_EQ(x.grad()[0], 2);
  EXPECT_EQ(x.grad()[1], 0);
  EXPECT_EQ(x.grad()[2], 4);
  EXPECT_EQ(x.grad()[3], 0);
}

TEST(ReLU, GuidedBackwardPassesOnlyPositiveGradientsWherePositive) {
  Variable x(Tensor::from({1, -1, 2, -2}, {4}), true);
  Tensor g = Tensor::from({3, 3, -3, -3}, {4});
  set_guided_relu(true);
  relu(x).backward(g);
  set_guided_relu(false);
  // x>0 and g>0 only at index 0.
  EXPECT_EQ(x.grad()[0], 3);
  EXPECT_EQ(x.grad()[1], 0);
  EXPECT_EQ(x.grad()[2], 0);
  EXPECT_EQ(x.grad()[3], 0);
  EXPECT_FALSE(guided_relu());
  Variable x2(Tensor::from({1, -1, 2, -2}, {4}), true);
  relu(x2).backward(g);  // plain: the gradient wherever x > 0
  EXPECT_EQ(x2.grad()[0], 3);
  EXPECT_EQ(x2.grad()[2], -3);
  EXPECT_EQ(x2.grad()[1], 0);
}

TEST(ReLU, LargeInputParallelPathMatchesSerialDefinition) {
  Rng rng(5);
  Tensor x = random_tensor({1, 100003}, rng);  // not a multiple of 64, above the parallel threshold
  Variable v(x, true);
  Tensor g = random_tensor(x.shape(), rng);
  Variable y = relu(v);
  y.backward(g);
  for (int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_EQ(y.data()[i], x[i] > 0 ? x[i] : 0.0f) << i;
    ASSERT_EQ(v.grad()[i], x[i] > 0 ? g[i] : 0.0f) << i;
  }  // Guided backpropagation over whole mask words as well as the last partial one.
  Variable v2(x, true);
  set_guided_relu(true);
  relu(v2).backward(g);
  set_guided_relu(false);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(v2.grad()[i], x[i] > 0 && g[i] > 0 ? g[i] : 0.0f) << i;
}

// ---- dropout --------------------------------------------------------------------------------------------

TEST(Dropout, InvertedScalingAndReproducibleMask) {
  Tensor x = Tensor::full({1000, 10}, 1.0f);
  Rng r1(42), r2(42), r3(43);
  Tensor a = dropout(Variable(x), 0.25f, true, r1).data();
  Tensor b = dropout(Variable(x), 0.25f, true, r2).data();
  Tensor c = dropout(Variable(x), 0.25f, true, r3).data();
  int64_t zeros = 0, differ = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    ASSERT_TRUE(a[i] == 0.0f || std::abs(a[i] - 1.0f / 0.75f) < 1e-6f) << a[i];
    ASSERT_EQ(a[i], b[i]);
    zeros += a[i] == 0.0f;
    differ += a[i] != c[i];
  }
  EXPECT_NEAR(double(zeros) / x.numel(), 0.25, 0.02);  // 10000 draws: 0.02 is > 4 standard deviations
  EXPECT_GT(differ, 0);
}

TEST(Dropout, IdentityInEvalOrZeroP) {
  Rng rng(1);
  Variable x(random_tensor({4, 5}, rng), true);
  EXPECT_TRUE(dropout(x, 0.5f, false, rng).data().shares_storage_with(x.data()));
  EXPECT_TRUE(dropout(x, 0.0f, true, rng).data().shares_storage_with(x.data()));
  expect_error([&] { dropout(x, 1.5f, true, rng); }, {"1.5"});
}

TEST(Dropout, GradcheckWithFixedMask) {
  Rng rng(6);
  Tensor x = random_tensor({5, 40}, rng);
  // A fresh generator with the same seed on every call: the same mask for every finite-difference step.
  gradcheck([](auto& v) { Rng r(9); return dropout(v[0], 0.4f, true, r); }, {x}, {true});
}

TEST(Dropout, ModuleIsReproducibleForASeed) {
  Tensor x = Tensor::full({2, 64}, 1.0f);
  Dropout d1(0.5f, 7), d2(0.5f, 7);
  Tensor a = d1(Variable(x)).data(), b = d2(Variable(x)).data();
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(a[i], b[i]);
  d1.eval();
  EXPECT_TRUE(d1(Variable(x)).data().shares_storage_with(x));
}

// Data parallel: a rank that holds rows 3.. of a batch draws, with first_row = 3, the masks one process draws
// for those rows (so the run does not depend on the number of ranks).
TEST(Dropout, RowMasksDependOnTheRowsPlaceInTheWholeBatch) {
  Tensor x = Tensor::full({7, 50}, 1.0f);
  Rng r1(11), r2(11);
  Tensor whole = dropout(Variable(x), 0.5f, true, r1).data();
  Tensor part = dropout(Variable(x.slice(3, 7).clone()), 0.5f, true, r2, 3).data();
  int64_t zeros = 0;
  for (int64_t i = 0; i < part.numel(); ++i) {
    ASSERT_EQ(part[i], whole[3 * 50 + i]) << i;
    zeros += part[i] == 0.0f;
  }
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, part.numel());
  // Another offset is another mask.
  Rng r3(11);
  Tensor shifted = dropout(Variable(x.slice(3, 7).clone()), 0.5f, true, r3, 2).data();
  int64_t differ = 0;
  for (int64_t i = 0; i < part.numel(); ++i) differ += part[i] != shifted[i];
  EXPECT_GT(differ, 0);
}

// ---- flatten --------------------------------------------------------------------------------------------

TEST(Flatten, ShapeAndGradcheck) {
  Rng rng(7);
  Tensor x = random_tensor({2, 3, 4, 5}, rng);
  Variable y = flatten(Variable(x));
  EXPECT_EQ(y.shape(), (Shape{2, 60}));
  EXPECT_EQ(y.data()[61], x.at({1, 0, 0, 1}));
  gradcheck([](auto& v) { return flatten(v[0]); }, {x}, {true});
  expect_error([] { flatten(Variable(Tensor::zeros({5}))); }, {"[5]"});
  expect_error([] { flatten(Variable(Tensor::zeros({2, 0, 3}))); }, {"empty", "[2, 0, 3]"});
}

// ---- batch_norm2d ---------------------------------------------------------------------------------------

TEST(BatchNorm2d, TrainingForwardAndRunningStatsMatchDefinition) {
  Rng rng(8);
  const int64_t n = 3, c = 2, h = 4, w = 5, m = n * h * w;
  Tensor x = random_tensor({n, c, h, w}, rng, -2, 3);
  Tensor gamma = Tensor::from({1.5f, -0.5f}, {c}), beta = Tensor::from({0.1f, 0.2f}, {c});
  BatchNormState st;
  st.running_mean = Tensor::from({0.3f, -0.2f}, {c});
  st.running_var = Tensor::from({2.0f, 0.5f}, {c});
  st.num_batches_tracked = 4;
  Tensor y = batch_norm2d(Variable(x), Variable(gamma), Variable(beta), st, true, 0.1f, 1e-5f).data();
  EXPECT_EQ(st.num_batches_tracked, 5);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < h * w; ++j) s += x[(i * c + ch) * h * w + j];
    double mu = s / m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < h * w; ++j) ss += std::pow(x[(i * c + ch) * h * w + j] - mu, 2);
    double var = ss / m;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < h * w; ++j) {
        int64_t k = (i * c + ch) * h * w + j;
        EXPECT_NEAR(y[k], gamma[ch] * (x[k] - mu) / std::sqrt(var + 1e-5) + beta[ch], 1e-5);
      }
    double rm0 = ch == 0 ? 0.3 : -0.2, rv0 = ch == 0 ? 2.0 : 0.5;
    EXPECT_NEAR(st.running_mean[ch], 0.9 * rm0 + 0.1 * mu, 1e-6);
    EXPECT_NEAR(st.running_var[ch], 0.9 * rv0 + 0.1 * ss / (m - 1), 1e-6);  // unbiased
  }
}

TEST(BatchNorm2d, EvalUsesRunningStatsAndLeavesThemAlone) {
  BatchNormState st;
  st.running_mean = Tensor::from({1.0f}, {1});
  st.running_var = Tensor::from({4.0f}, {1});
  Tensor x = Tensor::from({1, 3, 5, -1}, {1, 1, 2, 2});
  Tensor y = batch_norm2d(Variable(x), Variable(Tensor::from({2.0f}, {1})), Variable(Tensor::from({1.0f}, {1})), st,
                          false, 0.1f, 0.0f)
                 .data();
  EXPECT_FLOAT_EQ(y[0], 1.0f);   // 2 * (1 - 1) / 2 + 1
  EXPECT_FLOAT_EQ(y[2], 5.0f);   // 2 * (5 - 1) / 2 + 1
  EXPECT_FLOAT_EQ(y[3], -1.0f);  // 2 * (-1 - 1) / 2 + 1
  EXPECT_EQ(st.running_mean[0], 1.0f);
  EXPECT_EQ(st.num_batches_tracked, 0);
}

TEST(BatchNorm2d, GradcheckTrainAndEval) {
  Rng rng(9);
  Tensor x = random_tensor({3, 4, 3, 5}, rng, -1, 2), g = random_tensor({4}, rng, 0.5, 1.5),
         b = random_tensor({4}, rng);
  for (bool training : {true, false}) {
    auto f = [training](auto& v) {
      BatchNormState st;  // fresh each call: the running stats must not drift between finite differences
      st.running_mean = Tensor::full({4}, 0.2f);
      st.running_var = Tensor::full({4}, 1.5f);
      return batch_norm2d(v[0], v[1], v[2], st, training);
    };
    gradcheck(f, {x, g, b}, {true, true, true});
    gradcheck(f, {x, g, b}, {true, false, false});  // frozen affine (fine-tuning with frozen BN)
    gradcheck(f, {x, g, b}, {false, true, false});
  }
}

TEST(BatchNorm2d, Errors) {
  BatchNormState st;
  Variable w(Tensor::full({3}, 1.0f)), b(Tensor::zeros({3}));
  expect_error([&] { batch_norm2d(Variable(Tensor::zeros({2, 4, 2, 2})), w, b, st, true); }, {"[3]", "[2, 4, 2, 2]"});
  expect_error([&] { batch_norm2d(Variable(Tensor::zeros({2, 3, 4})), w, b, st, true); }, {"[2, 3, 4]"});
  expect_error([&] { batch_norm2d(Variable(Tensor::zeros({1, 3, 1, 1})), w, b, st, true); }, {"more than one"});
  expect_error([&] { batch_norm2d(Variable(Tensor::zeros({0, 3, 2, 2})), w, b, st, true); }, {"empty"});
  expect_error([&] { batch_norm2d(Variable(Tensor::zeros({1, 3, 2, 2})), w, b, st, false); }, {"running"});
}

TEST(BatchNorm2d, ModuleNamesBuffersAndCounter) {
  BatchNorm2d bn(3);
  auto params = bn.named_parameters("features.1");
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "features.1.weight");
  EXPECT_EQ(params[1].first, "features.1.bias");
  auto bufs = bn.named_buffers();
  ASSERT_EQ(bufs.size(), 3u);
  EXPECT_EQ(bufs[0].first, "running_mean");
  EXPECT_EQ(bufs[1].first, "running_var");
  EXPECT_EQ(bufs[2].first, "num_batches_tracked");
  Rng rng(10);
  bn.num_batches_tracked[0] = 7;  // as a checkpoint would restore it
  bn(Variable(random_tensor({2, 3, 2, 2}, rng)));
  EXPECT_EQ(bn.num_batches_tracked[0], 8.0f);
  bn.eval();
  bn(Variable(random_tensor({2, 3, 2, 2}, rng)));
  EXPECT_EQ(bn.num_batches_tracked[0], 8.0f);
  EXPECT_EQ(bn.describe(), "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
}

// ---- log_softmax / softmax / cross_entropy --------------------------------------------------------------

TEST(LogSoftmax, StableAndGradcheck) {
  Tensor x = Tensor::from({1000, 1001, 1002, -5, 0, 5}, {2, 3});
  Tensor lp = log_softmax(Variable(x)).data();
  // log(e^0 + e^1 + e^2) = 2.40760596
  EXPECT_NEAR(lp[0], -2.40760596, 1e-4);
  EXPECT_NEAR(lp[2], -0.40760596, 1e-4);
  Tensor p = softmax(x);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-6);
  EXPECT_NEAR(p[5], 0.993262, 1e-5);
  Rng rng(11);
  gradcheck([](auto& v) { return log_softmax(v[0]); }, {random_tensor({4, 6}, rng, -3, 3)}, {true});
}

TEST(CrossEntropy, KnownValues) {
  // Equal logits: -log(1/3) whatever the target, weights or smoothing.
  Variable z(Tensor::zeros({2, 3}));
  EXPECT_NEAR(cross_entropy(z, {0, 2}).item(), std::log(3.0), 1e-6);
  CrossEntropyOptions o;
  o.class_weights = {1, 2, 3};
  o.label_smoothing = 0.3f;
  EXPECT_NEAR(cross_entropy(z, {0, 2}, o).item(), std::log(3.0), 1e-6);
  // Weighted mean by hand: rows lose l0, l1 with weights w_t: (w0 l0 + w1 l1) / (w0 + w1).
  Tensor x = Tensor::from({2, 0, 0, 0, 1, 0}, {2, 3});
  double l0 = -std::log(std::exp(2.0) / (std::exp(2.0) + 2)), l1 = -std::log(std::exp(1.0) / (std::exp(1.0) + 2));
  CrossEntropyOptions wo;
  wo.class_weights = {0.5f, 3.0f, 1.0f};
  EXPECT_NEAR(cross_entropy(Variable(x), {0, 1}, wo).item(), (0.5 * l0 + 3.0 * l1) / 3.5, 1e-6);
  // Smoothing 0.6 over 3 classes, unweighted: target mass 0.6, 0.2 on each class.
  double lp0[3] = {2 - std::log(std::exp(2.0) + 2), -std::log(std::exp(2.0) + 2), -std::log(std::exp(2.0) + 2)};
  double lp1[3] = {-std::log(std::exp(1.0) + 2), 1 - std::log(std::exp(1.0) + 2), -std::log(std::exp(1.0) + 2)};
  double want = 0;
  for (int c = 0; c < 3; ++c) want -= ((c == 0 ? 0.4 : 0.0) + 0.2) * lp0[c] + ((c == 1 ? 0.4 : 0.0) + 0.2) * lp1[c];
  CrossEntropyOptions so;
  so.label_smoothing = 0.6f;
  EXPECT_NEAR(cross_entropy(Variable(x), {0, 1}, so).item(), want / 2, 1e-6);
}

TEST(CrossEntropy, GradcheckWithWeightsAndSmoothing) {
  Rng rng(12);
  Tensor x = random_tensor({5, 4}, rng, -2, 2);
  std::vector<int> t{0, 3, 1, 1, 2};
  CrossEntropyOptions plain, both;
  both.class_weights = {0.5f, 2.0f, 1.0f, 0.25f};
  both.label_smoothing = 0.15f;
  for (const auto& o : {plain, both})
    gradcheck([&](auto& v) { return reshape(cross_entropy(v[0], t, o), {1}); }, {x}, {true});
}

TEST(CrossEntropy, Errors) {
  Variable x(Tensor::zeros({3, 4}));
  expect_error([&] { cross_entropy(x, {0, 4, 1}); }, {"target 4", "row 1", "4 classes"});
  expect_error([&] { cross_entropy(x, {0, -1, 1}); }, {"target -1", "row 1"});
  expect_error([&] { cross_entropy(x, {0, 1}); }, {"2 targets", "[3, 4]"});
  Tensor bad = Tensor::zeros({3, 4});
  bad.at({2, 1}) = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { cross_entropy(Variable(bad), {0, 1, 2}); }, {"non-finite", "row 2"});
  bad.at({2, 1}) = std::numeric_limits<float>::infinity();
  expect_error([&] { cross_entropy(Variable(bad), {0, 1, 2}); }, {"non-finite", "row 2"});
  CrossEntropyOptions o;
  o.class_weights = {1, 2};
  expect_error([&] { cross_entropy(x, {0, 1, 2}, o); }, {"2 class weights", "4 classes"});
  expect_error([&] { cross_entropy(Variable(Tensor::zeros({0, 4})), {}); }, {"empty"});
  expect_error([&] { cross_entropy(Variable(Tensor::zeros({4})), {0}); }, {"[4]"});
}

// ---- modules --------------------------------------------------------------------------------------------

TEST(Modules, NamesShapesInitAndDescribe) {
  Rng rng(13);
  Sequential seq;
  seq.add(std::make_shared<Conv2d>(3, 64, 3, 1, 1, true, rng));
  seq.add(std::make_shared<ReLU>());
  seq.add(std::make_shared<MaxPool2d>(2, 2));
  seq.add(std::make_shared<Linear>(100, 10, rng));
  auto ps = seq.named_parameters("features");
  ASSERT_EQ(ps.size(), 4u);
  EXPECT_EQ(ps[0].first, "features.0.weight");
  EXPECT_EQ(ps[0].second->shape(), (Shape{64, 3, 3, 3}));
  EXPECT_EQ(ps[1].first, "features.0.bias");
  EXPECT_EQ(ps[2].first, "features.3.weight");
  EXPECT_EQ(ps[3].second->shape(), (Shape{10}));
  // torchvision's init: conv std sqrt(2 / (64*9)) = 0.0589, linear std 0.01, biases 0.
  auto stddev = [](const Tensor& t) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += t[i], ss += double(t[i]) * t[i];
    return std::sqrt(ss / t.numel() - std::pow(s / t.numel(), 2));
  };
  EXPECT_NEAR(stddev(ps[0].second->data()), std::sqrt(2.0 / 576), 0.004);
  EXPECT_NEAR(stddev(ps[2].second->data()), 0.01, 0.0005);
  EXPECT_EQ(ps[1].second->data()[5], 0.0f);
  EXPECT_EQ(seq.at(0).describe(), "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(seq.at(2).describe(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(seq.at(3).describe(), "Linear(in_features=100, out_features=10, bias=True)");
  EXPECT_EQ(AdaptiveAvgPool2d(7, 7).describe(), "AdaptiveAvgPool2d(output_size=(7, 7))");
  EXPECT_EQ(Dropout(0.5f, 1).describe(), "Dropout(p=0.5, inplace=False)");
  EXPECT_EQ(Conv2d(3, 8, 3, 2, 0, false, rng).named_parameters().size(), 1u);
}

TEST(Modules, LinearModuleForwardsToTheOp) {
  Rng rng(14);
  Linear lin(6, 3, rng);
  Tensor x = random_tensor({2, 6}, rng);
  Tensor y = lin(Variable(x)).data();
  Tensor ref = naive_linear(x, lin.weight.data(), lin.bias.data());
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-6);
}
