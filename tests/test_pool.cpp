// layers/pool: max, average and adaptive average pooling against naive references and values printed by
// PyTorch 1.13 (torch.nn.functional), gradients by finite differences, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "core/threading.h"
#include "error_of.h"
#include "gradcheck.h"
#include "layers/pool.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// The input the PyTorch values below were computed from: x[i] = (7i mod 11) - 5 + i/4, flat NCHW.
Tensor pattern(const Shape& s) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>((i * 7) % 11 - 5) + 0.25f * static_cast<float>(i);
  return t;
}

void expect_values(const Tensor& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << "index " << i;
}

// Values all different and at least 0.05 apart (a shuffled ramp), so a finite-difference step of 1e-2
// never changes which element of a window is the maximum.
Tensor distinct_values(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  std::vector<int64_t> order(t.numel());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  for (int64_t i = t.numel() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.05f * static_cast<float>(order[i]) - 1.0f;
  return t;
}

struct Pool {
  int k, s, p;
};

// Direct definitions, one output at a time, over a padded window.
Tensor naive_max(const Tensor& x, Pool q) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = (H + 2 * q.p - q.k) / q.s + 1, Wo = (W + 2 * q.p - q.k) / q.s + 1;
  Tensor y = Tensor::empty({N, C, Ho, Wo});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          float m = -std::numeric_limits<float>::infinity();
          for (int i = 0; i < q.k; ++i)
            for (int j = 0; j < q.k; ++j) {
              const int64_t h = oh * q.s - q.p + i, w = ow * q.s - q.p + j;
              if (h >= 0 && h < H && w >= 0 && w < W) m = std::max(m, x.at({n, c, h, w}));
            }
          y.at({n, c, oh, ow}) = m;
        }
  return y;
}

Tensor naive_avg(const Tensor& x, Pool q) {  // count_include_pad: always k*k here (floor mode, 2p <= k)
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Ho = (H + 2 * q.p - q.k) / q.s + 1, Wo = (W + 2 * q.p - q.k) / q.s + 1;
  Tensor y = Tensor::empty({N, C, Ho, Wo});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double s = 0;
          for (int i = 0; i < q.k; ++i)
            for (int j = 0; j < q.k; ++j) {
              const int64_t h = oh * q.s - q.p + i, w = ow * q.s - q.p + j;
              if (h >= 0 && h < H && w >= 0 && w < W) s += x.at({n, c, h, w});
            }
          y.at({n, c, oh, ow}) = static_cast<float>(s / (q.k * q.k));
        }
  return y;
}

Tensor naive_adaptive(const Tensor& x, int64_t Ho, int64_t Wo) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor y = Tensor::empty({N, C, Ho, Wo});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const auto h0 = static_cast<int64_t>(std::floor(double(oh) * H / Ho));
          const auto h1 = static_cast<int64_t>(std::ceil(double(oh + 1) * H / Ho));
          const auto w0 = static_cast<int64_t>(std::floor(double(ow) * W / Wo));
          const auto w1 = static_cast<int64_t>(std::ceil(double(ow + 1) * W / Wo));
          double s = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) s += x.at({n, c, h, w});
          y.at({n, c, oh, ow}) = static_cast<float>(s / double((h1 - h0) * (w1 - w0)));
        }
  return y;
}

void expect_same(const Tensor& got, const Tensor& want, float tol) {
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "index " << i;
}

const Pool kPools[] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {2, 1, 0}, {3, 3, 0}, {4, 2, 2}, {5, 2, 2}};

}  // namespace

// ---- max pool ----------------------------------------------------------------------------------------------

TEST(MaxPool2d, MatchesNaiveOnRandomShapes) {
  Rng rng(1);
  for (const Pool& q : kPools) {
    SCOPED_TRACE(str("kernel ", q.k, " stride ", q.s, " pad ", q.p));
    Tensor x = random_tensor({3, 2, 9, 7}, rng);
    expect_same(max_pool2d(Variable(x), q.k, q.s, q.p).data(), naive_max(x, q), 0.0f);
    expect_same(max_pool2d(Variable(x, true), q.k, q.s, q.p).data(), naive_max(x, q), 0.0f);  // keeps indices
  }
}

TEST(MaxPool2d, MatchesPyTorchValuesAndArgmax) {
  // F.max_pool2d(x, 3, 2, 1, return_indices=True) on pattern([1, 2, 5, 6]).
  Variable x(pattern({1, 2, 5, 6}), true);
  Variable y = max_pool2d(x, 3, 2, 1);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
  expect_values(y.data(), {5.5, 5.75, 5.75, 5.5, 8.5, 8.25, 11.25, 11.25, 11.0, 14.0, 13.75, 13.75, 14.0, 16.5,
                           16.75, 13.0, 16.5, 19.5});
  // Backward sends each output's gradient to the argmax PyTorch reports (indices within each plane).
  const int torch_indices[] = {6, 3, 3, 6, 14, 17, 25, 25, 28, 6, 9, 9, 6, 20, 17, 18, 20, 28};
  Tensor dy = Tensor::empty(y.shape()), want = Tensor::zeros(x.shape());
  for (int i = 0; i < 18; ++i) {
    dy[i] = static_cast<float>(i + 1);
    want[(i / 9) * 30 + torch_indices[i]] += dy[i];
  }
  y.backward(dy);
  expect_same(x.grad(), want, 0.0f);
}

TEST(MaxPool2d, PropagatesNaN) {
  Tensor x = Tensor::from({1, 2, std::nanf(""), 0}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(Variable(x), 2, 2).item()));
  // Wherever the NaN sits in the window, both for VGG's 2x2 / stride 2 (its own loop) and a 3x3 window.
  for (int at = 0; at < 9; ++at) {
    Tensor y = Tensor::full({1, 1, 3, 3}, 1.0f);
    y[at] = std::nanf("");
    EXPECT_TRUE(std::isnan(max_pool2d(Variable(y), 3, 3).item())) << at;
    if (at % 3 < 2 && at / 3 < 2) {
      EXPECT_TRUE(std::isnan(max_pool2d(Variable(y), 2, 2).item())) << at;
    }
  }
}

TEST(MaxPool2d, TiesGoToTheFirstElementAsInPyTorch) {
  // PyTorch's CPU kernel takes a value only when it is strictly greater, so of equal values the first in
  // row-major order gets the gradient. The same for 2x2 / stride 2 (its own loop) and 3x3 / stride 2.
  for (const Pool q : {Pool{2, 2, 0}, Pool{3, 2, 0}}) {
    SCOPED_TRACE(str("kernel ", q.k));
    Variable x(Tensor::full({1, 1, 5, 5}, 2.0f), true);
    Variable y = max_pool2d(x, q.k, q.s, q.p);
    y.backward(Tensor::full(y.shape(), 1.0f));
    Tensor want = Tensor::zeros({1, 1, 5, 5});
    for (int64_t oh = 0; oh < y.size(2); ++oh)
      for (int64_t ow = 0; ow < y.size(3); ++ow) want[oh * q.s * 5 + ow * q.s] += 1.0f;
    expect_same(x.grad(), want, 0.0f);
  }
}

TEST(MaxPool2d, Gradcheck) {
  for (const Pool& q : kPools) {
    SCOPED_TRACE(str("kernel ", q.k, " stride ", q.s, " pad ", q.p));
    gradcheck([&](std::vector<Variable>& v) { return max_pool2d(v[0], q.k, q.s, q.p); },
              {distinct_values({2, 2, 7, 6}, q.k * 10 + q.s)}, {true});
  }
}

// ---- average pool ------------------------------------------------------------------------------------------

TEST(AvgPool2d, MatchesNaiveOnRandomShapes) {
  Rng rng(2);
  for (const Pool& q : kPools) {
    SCOPED_TRACE(str("kernel ", q.k, " stride ", q.s, " pad ", q.p));
    Tensor x = random_tensor({2, 3, 8, 11}, rng);
    expect_same(avg_pool2d(Variable(x), q.k, q.s, q.p).data(), naive_avg(x, q), 1e-6f);
  }
}

TEST(AvgPool2d, MatchesPyTorchCountIncludePad) {
  // F.avg_pool2d(x, 3, 2, 1) on pattern([1, 2, 5, 6]): padded cells count in the divisor.
  Variable y = avg_pool2d(Variable(pattern({1, 2, 5, 6})), 3, 2, 1);
  expect_values(y.data(), {0.5, 1.2777777910232544, 1.1666666269302368, 2.0833332538604736, 3.6111111640930176,
                           3.444444417953491, 2.277777671813965, 3.944444417953491, 3.8333332538604736,
                           4.277777671813965, 5.722222328186035, 5.611111164093018, 7.75, 10.88888931274414,
                           11.94444465637207, 4.833333492279053, 8.38888931274414, 9.5});
}

TEST(AvgPool2d, Gradcheck) {
  Rng rng(3);
  for (const Pool& q : kPools) {
    SCOPED_TRACE(str("kernel ", q.k, " stride ", q.s, " pad ", q.p));
    gradcheck([&](std::vector<Variable>& v) { return avg_pool2d(v[0], q.k, q.s, q.p); },
              {random_tensor({2, 2, 7, 6}, rng)}, {true});
  }
}

// ---- adaptive average pool ---------------------------------------------------------------------------------

TEST(AdaptiveAvgPool2d, MatchesPyTorchWindows) {
  // Overlapping windows (7 -> 3 rows, 5 -> 2 columns) and up-sampling (3x4 -> 5x7).
  expect_values(adaptive_avg_pool2d(Variable(pattern({1, 1, 7, 5})), 3, 2).data(),
                {0.6111111044883728, 2.8888890743255615, 3.444444417953491, 4.5, 6.277778148651123,
                 6.111111164093018});
  expect_values(adaptive_avg_pool2d(Variable(pattern({1, 1, 3, 4})), 5, 7).data(),
                {-5.0, -1.375, 2.25,  0.375, -1.5, 2.125, 5.75,  -1.5,   -0.625, 0.25, 1.125, 2.0,
                 2.875, 3.75, 2.0,    0.125, -1.75, 1.875, 5.5,  3.625, 1.75,  0.0,  0.875, 1.75,
                 2.625, 3.5,  1.625, -0.25, -2.0, 1.625, 5.25, 3.375, 1.5,  -0.375, -2.25});
}

TEST(AdaptiveAvgPool2d, MatchesNaiveOnRandomShapes) {
  Rng rng(4);
  const int sizes[][4] = {{14, 14, 7, 7}, {13, 9, 7, 7}, {5, 6, 1, 1}, {4, 4, 6, 5}, {10, 3, 4, 3}};
  for (const auto& s : sizes) {
    SCOPED_TRACE(str(s[0], "x", s[1], " -> ", s[2], "x", s[3]));
    Tensor x = random_tensor({2, 3, s[0], s[1]}, rng);
    expect_same(adaptive_avg_pool2d(Variable(x), s[2], s[3]).data(), naive_adaptive(x, s[2], s[3]), 1e-6f);
  }
}

TEST(AdaptiveAvgPool2d, IdentityWhenSizesMatch) {
  Rng rng(5);
  Variable x(random_tensor({2, 4, 7, 7}, rng), true);
  Variable y = adaptive_avg_pool2d(x, 7, 7);
  expect_same(y.data(), x.data(), 0.0f);
  Tensor dy = random_tensor(y.shape(), rng);
  y.backward(dy);
  expect_same(x.grad(), dy, 0.0f);
}

TEST(AdaptiveAvgPool2d, Gradcheck) {
  Rng rng(6);
  const int sizes[][4] = {{7, 5, 3, 2}, {3, 4, 5, 7}, {6, 6, 6, 6}, {8, 8, 3, 3}};
  for (const auto& s : sizes) {
    SCOPED_TRACE(str(s[0], "x", s[1], " -> ", s[2], "x", s[3]));
    gradcheck([&](std::vector<Variable>& v) { return adaptive_avg_pool2d(v[0], s[2], s[3]); },
              {random_tensor({2, 2, s[0], s[1]}, rng)}, {true});
  }
}

// ---- all pools ---------------------------------------------------------------------------------------------

TEST(Pool, SameResultsForOneAndTwoThreads) {
  Rng rng(7);
  Tensor x = random_tensor({3, 5, 13, 12}, rng), dy;
  const int saved = num_threads();
  std::vector<std::function<Variable(const Variable&)>> ops = {
      [](const Variable& v) { return max_pool2d(v, 3, 2, 1); },
      [](const Variable& v) { return avg_pool2d(v, 3, 1, 1); },
      [](const Variable& v) { return adaptive_avg_pool2d(v, 5, 7); }};
  for (auto& op : ops) {
    Tensor out[2], grad[2];
    for (int t = 0; t < 2; ++t) {
      set_num_threads(t + 1);
      Variable xv(x, true);
      Variable y = op(xv);
      if (!dy.defined() || dy.shape() != y.shape()) dy = random_tensor(y.shape(), rng);
      y.backward(dy);
      out[t] = y.data();
      grad[t] = xv.grad();
    }
    EXPECT_EQ(std::memcmp(out[0].data(), out[1].data(), out[0].numel() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(grad[0].data(), grad[1].data(), grad[0].numel() * sizeof(float)), 0);
  }
  set_num_threads(saved);
}

TEST(Pool, ErrorsNameTheShapes) {
  Variable x(Tensor::zeros({2, 3, 5, 5}));
  std::string m = error_of([&] { max_pool2d(Variable(Tensor::zeros({3, 5, 5})), 2, 2); });
  EXPECT_NE(m.find("[3, 5, 5]"), std::string::npos) << m;
  m = error_of([&] { avg_pool2d(Variable(Tensor::zeros({2, 0, 5, 5})), 2, 2); });
  EXPECT_NE(m.find("empty"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 0, 5, 5]"), std::string::npos) << m;
  m = error_of([&] { max_pool2d(x, 7, 1); });
  EXPECT_NE(m.find("larger than the padded input [2, 3, 5, 5]"), std::string::npos) << m;
  m = error_of([&] { avg_pool2d(x, 3, 1, 2); });
  EXPECT_NE(m.find("more than half the kernel"), std::string::npos) << m;
  m = error_of([&] { max_pool2d(x, 2, 0); });
  EXPECT_NE(m.find("stride 0"), std::string::npos) << m;
  m = error_of([&] { adaptive_avg_pool2d(x, 0, 3); });
  EXPECT_NE(m.find("[2, 3, 5, 5]"), std::string::npos) << m;
  m = error_of([&] { adaptive_avg_pool2d(Variable(Tensor::zeros({1, 1, 5})), 1, 1); });
  EXPECT_NE(m.find("[1, 1, 5]"), std::string::npos) << m;
}
