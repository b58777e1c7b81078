// Grader of exercise 4 (docs/EXERCISES.md): ctest -R Exercise.Matmul
#include <gtest/gtest.h>

#include "exercises/matmul.h"
#include "gradcheck.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Exercise, MatmulForwardAgainstThreeLoops) {
  Rng rng(15);
  const int64_t M = 5, K = 7, N = 3;
  Tensor a = random_tensor({M, K}, rng), b = random_tensor({K, N}, rng);
  Variable c = exercises::matmul(Variable(a), Variable(b));
  ASSERT_EQ(c.shape(), (Shape{M, N}));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += double(a[i * K + k]) * b[k * N + j];
      EXPECT_NEAR(c.data()[i * N + j], acc, 1e-5) << i << "," << j;
    }
}

// Both inputs, then each alone: gradcheck also fails when the other one gets a gradient.
TEST(Exercise, MatmulGradcheckBothSidesAndEachAlone) {
  Rng rng(16);
  Tensor a = random_tensor({4, 6}, rng), b = random_tensor({6, 3}, rng);
  auto f = [](auto& v) { return exercises::matmul(v[0], v[1]); };
  gradcheck(f, {a, b}, {true, true});
  gradcheck(f, {a, b}, {true, false});
  gradcheck(f, {a, b}, {false, true});
}

TEST(Exercise, MatmulNamesBothShapesWhenTheyDoNotFit) {
  try {
    exercises::matmul(Variable(Tensor::zeros({2, 3})), Variable(Tensor::zeros({4, 5})));
    ADD_FAILURE() << "no error for [2, 3] x [4, 5]";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(m.find("[2, 3]") != std::string::npos && m.find("[4, 5]") != std::string::npos) << m;
  }
}
