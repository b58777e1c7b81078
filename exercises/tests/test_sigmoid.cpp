// Grader of exercise 1 (docs/EXERCISES.md): ctest -R Exercise.Sigmoid
#include <gtest/gtest.h>

#include <cmath>

#include "exercises/sigmoid.h"
#include "gradcheck.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Exercise, SigmoidForwardMatchesTheFormula) {
  const std::vector<float> xs{-30.0f, -2.0f, -0.5f, 0.0f, 0.5f, 2.0f, 30.0f};
  Variable y = exercises::sigmoid(Variable(Tensor::from(xs, {7})));
  ASSERT_EQ(y.shape(), Shape{7});
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_NEAR(y.data()[static_cast<int64_t>(i)], 1.0 / (1.0 + std::exp(-double(xs[i]))), 1e-7) << "x = " << xs[i];
}

TEST(Exercise, SigmoidGradcheck) {
  Rng rng(11);
  gradcheck([](auto& v) { return exercises::sigmoid(v[0]); }, {random_tensor({3, 5}, rng, -4.0f, 4.0f)}, {true});
}

// The closure holds the output's storage (so y.data() is shared) and not x's (so x.data() is not).
TEST(Exercise, SigmoidKeepsItsOutputNotItsInput) {
  Variable x(Tensor::full({64}, 0.25f), true);
  ASSERT_TRUE(x.data().storage_unique());
  Variable y = exercises::sigmoid(x);
  EXPECT_TRUE(x.data().storage_unique()) << "the backward closure keeps x: it needs only the output";
  EXPECT_FALSE(y.data().storage_unique()) << "the backward closure does not keep the output it needs";
  sum(y).backward();
  const double s = 1.0 / (1.0 + std::exp(-0.25));
  EXPECT_NEAR(x.grad()[0], s * (1 - s), 1e-6);
}
