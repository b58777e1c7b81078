// Grader of exercise 3 (docs/EXERCISES.md): ctest -R Exercise.AvgPool
#include <gtest/gtest.h>

#include "exercises/avg_pool.h"
#include "gradcheck.h"
#include "layers/pool.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Exercise, AvgPoolByHand) {
  // One 4 x 4 plane of 0..15 in 2 x 2 windows: the window means are 2.5, 4.5, 10.5, 12.5.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  Variable x(Tensor::from(v, {1, 1, 4, 4}), true);
  Variable y = exercises::avg_pool(x, 2);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  const float want[] = {2.5f, 4.5f, 10.5f, 12.5f};
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data()[i], want[i]) << i;
  y.backward(Tensor::from({4, 8, 12, 16}, {1, 1, 2, 2}));
  EXPECT_FLOAT_EQ(x.grad()[0], 1.0f);   // 4 / 4, window (0, 0)
  EXPECT_FLOAT_EQ(x.grad()[7], 2.0f);   // pixel (1, 3), window (0, 1)
  EXPECT_FLOAT_EQ(x.grad()[15], 4.0f);  // window (1, 1)
}

// Against layers/pool.h's avg_pool2d with kernel = stride = k, forward and backward.
TEST(Exercise, AvgPoolMatchesTheLibrary) {
  Rng rng(13);
  for (int k : {1, 2, 3}) {
    SCOPED_TRACE(k);
    Tensor x0 = random_tensor({2, 3, 3 * k, 2 * k}, rng), dy = random_tensor({2, 3, 3, 2}, rng);
    Variable a(x0.clone(), true), b(x0.clone(), true);
    Variable ya = exercises::avg_pool(a, k), yb = avg_pool2d(b, k, k);
    ASSERT_EQ(ya.shape(), yb.shape());
    for (int64_t i = 0; i < ya.numel(); ++i) EXPECT_NEAR(ya.data()[i], yb.data()[i], 1e-6) << i;
    ya.backward(dy);
    yb.backward(dy);
    for (int64_t i = 0; i < x0.numel(); ++i) EXPECT_NEAR(a.grad()[i], b.grad()[i], 1e-6) << i;
  }
}

TEST(Exercise, AvgPoolGradcheck) {
  Rng rng(14);
  gradcheck([](auto& v) { return exercises::avg_pool(v[0], 2); }, {random_tensor({2, 2, 4, 6}, rng)}, {true});
}

TEST(Exercise, AvgPoolRefusesASizeThatIsNotAMultipleOfK) {
  try {
    exercises::avg_pool(Variable(Tensor::zeros({1, 1, 5, 4})), 2);
    ADD_FAILURE() << "no error for H = 5, k = 2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of k"), std::string::npos) << e.what();
  }
}
