// train/mixup.h and the Beta sampler it draws from: the mixed batch against a naive blend, the loss against
// the cross-entropy of the mixed label distribution written out by hand, its gradient against finite
// differences, and Rng::gamma / Rng::beta against their known moments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/rng.h"
#include "gradcheck.h"
#include "train/mixup.h"

using namespace cxr;
using namespace cxr::testing;

TEST(RngGammaBeta, MomentsMatchTheDistributions) {
  Rng rng(17);
  const int n = 200000;
  // Gamma(k, 1): mean k, variance k; k below 1 takes the boosted path.
  for (double k : {0.2, 1.0, 3.5}) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double x = rng.gamma(k);
      ASSERT_GE(x, 0.0);
      s += x;
      s2 += x * x;
    }
    const double m = s / n, v = s2 / n - m * m;
    EXPECT_NEAR(m, k, 0.02 * std::max(1.0, k)) << "Gamma(" << k << ") mean";
    EXPECT_NEAR(v, k, 0.05 * std::max(1.0, k)) << "Gamma(" << k << ") variance";
  }
  // Beta(a, b): mean a/(a+b), variance ab / ((a+b)^2 (a+b+1)). Beta(0.2, 0.2) piles up near 0 and 1.
  for (auto [a, b] : std::vector<std::pair<double, double>>{{0.2, 0.2}, {1, 1}, {2, 5}}) {
    double s = 0, s2 = 0;
    int near_ends = 0;
    for (int i = 0; i < n; ++i) {
      const double x = rng.beta(a, b);
      ASSERT_TRUE(x >= 0.0 && x <= 1.0) << x;
      s += x;
      s2 += x * x;
      near_ends += x < 0.1 || x > 0.9;
    }
    const double m = s / n, v = s2 / n - m * m;
    const double mean = a / (a + b), var = a * b / ((a + b) * (a + b) * (a + b + 1));
    EXPECT_NEAR(m, mean, 0.005) << "Beta(" << a << ", " << b << ") mean";
    EXPECT_NEAR(v, var, 0.05 * var) << "Beta(" << a << ", " << b << ") variance";
    if (a == 1 && b == 1) {
      EXPECT_NEAR(near_ends / static_cast<double>(n), 0.2, 0.01);  // uniform
    }
  }
  EXPECT_TRUE(std::isnan(rng.gamma(0.0)));
}

TEST(Mixup, TheBatchIsTheBlendOfEachImageWithItsPartner) {
  Rng data(3);
  Tensor x = random_tensor({6, 2, 3, 3}, data);
  const std::vector<int> labels = {0, 1, 2, 0, 1, 2};
  Rng r1(99), r2(99);
  MixedBatch m = mixup_batch(x, labels, 0.4f, r1);
  MixedBatch again = mixup_batch(x, labels, 0.4f, r2);
  EXPECT_EQ(m.lambda, again.lambda);  // a function of the generator's state alone
  EXPECT_EQ(m.perm, again.perm);
  EXPECT_GT(m.lambda, 0.0f);
  EXPECT_LT(m.lambda, 1.0f);
  std::vector<int> sorted = m.perm;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(m.labels_a, labels);
  const int64_t per = 2 * 3 * 3;
  for (int i = 0; i < 6; ++i) {
    const int j = m.perm[static_cast<size_t>(i)];
    EXPECT_EQ(m.labels_b[static_cast<size_t>(i)], labels[static_cast<size_t>(j)]);
    EXPECT_EQ(m.dominant(static_cast<size_t>(i)), m.lambda >= 0.5f ? labels[static_cast<size_t>(i)]
                                                                    : labels[static_cast<size_t>(j)]);
    for (int64_t k = 0; k < per; ++k)
      EXPECT_NEAR(m.images[i * per + k], m.lambda * x[i * per + k] + (1 - m.lambda) * x[j * per + k], 1e-6);
  }
  // Over many batches the weights follow Beta(alpha, alpha) (mean 1/2) and the partners are not all self.
  double lsum = 0;
  int moved = 0;
  for (int t = 0; t < 2000; ++t) {
    MixedBatch b = mixup_batch(x, labels, 0.4f, r1);
    lsum += b.lambda;
    for (int i = 0; i < 6; ++i) moved += b.perm[static_cast<size_t>(i)] != i;
  }
  EXPECT_NEAR(lsum / 2000, 0.5, 0.03);
  EXPECT_NEAR(moved / 12000.0, 5.0 / 6.0, 0.03);  // a uniform permutation leaves 1 of 6 in place on average
  EXPECT_THROW(mixup_batch(x, labels, 0.0f, r1), Error);
  EXPECT_THROW(mixup_batch(x, {0, 1}, 0.4f, r1), Error);
}

TEST(Mixup, LossIsTheCrossEntropyOfTheMixedLabelsAndItsGradientIsRight) {
  Rng data(5);
  Tensor z = random_tensor({4, 3}, data, -2.0f, 2.0f);
  MixedBatch m;
  m.labels_a = {0, 1, 2, 1};
  m.labels_b = {2, 1, 0, 0};
  m.lambda = 0.3f;
  // By hand: -sum_j q_ij log softmax(z_i)_j averaged over rows, q = lambda onehot(a) + (1 - lambda) onehot(b).
  double want = 0;
  for (int i = 0; i < 4; ++i) {
    double mx = -1e30, se = 0;
    for (int j = 0; j < 3; ++j) mx = std::max(mx, static_cast<double>(z[i * 3 + j]));
    for (int j = 0; j < 3; ++j) se += std::exp(z[i * 3 + j] - mx);
    auto logp = [&](int j) { return z[i * 3 + j] - mx - std::log(se); };
    want -= m.lambda * logp(m.labels_a[static_cast<size_t>(i)]) + (1 - m.lambda) * logp(m.labels_b[static_cast<size_t>(i)]);
  }
  want /= 4;
  EXPECT_NEAR(mixup_cross_entropy(Variable(z), m).item(), want, 1e-5);
  // With lambda 1 it is the plain cross-entropy of the batch's own labels.
  MixedBatch plain = m;
  plain.lambda = 1.0f;
  EXPECT_NEAR(mixup_cross_entropy(Variable(z), plain).item(), cross_entropy(Variable(z), m.labels_a).item(), 1e-7);
  gradcheck([&](std::vector<Variable>& v) { return mixup_cross_entropy(v[0], m); }, {z}, {true});
}
