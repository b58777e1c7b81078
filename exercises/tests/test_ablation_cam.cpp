// Grader of exercise 7 (docs/EXERCISES.md): ctest -R Exercise.AblationCam
// A hand-built [2, 2, 2] activation under two heads: a linear head over global average pooling, where
// ablating channel k removes exactly v_k * mean(A_k) from the score, and a non-linear head, where the test
// zeroes each channel itself and calls the head directly.
#include <gtest/gtest.h>

#include <algorithm>

#include "exercises/ablation_cam.h"

using namespace cxr;

namespace {

// Channel 0 lights the top-left corner, channel 1 the bottom row.
Tensor activation() { return Tensor::from({4, 0, 0, 0, /*channel 1*/ 0, 0, 2, 2}, {2, 2, 2}); }

float pooled_linear_head(const Tensor& A) {  // y = 3 mean(A_0) - 1 mean(A_1) + 2
  float m0 = 0, m1 = 0;
  for (int i = 0; i < 4; ++i) {
    m0 += A[i] / 4;
    m1 += A[4 + i] / 4;
  }
  return 3 * m0 - 1 * m1 + 2;
}

}  // namespace

TEST(Exercise, AblationCamUnderAPooledLinearHeadByHand) {
  // mean(A_0) = 1, mean(A_1) = 1: y = 3 - 1 + 2 = 4; without channel 0: 1, without channel 1: 5.
  // w_0 = (4 - 1) / 4 = 0.75, w_1 = (4 - 5) / 4 = -0.25; raw = 0.75 A_0 - 0.25 A_1 = [[3, 0], [-0.5, -0.5]].
  const Tensor A = activation();
  int calls = 0;
  exercises::AblationCam r = exercises::ablation_cam(A, [&](const Tensor& a) {
    ++calls;
    return pooled_linear_head(a);
  });
  ASSERT_EQ(r.weights.shape(), Shape{2});
  ASSERT_EQ(r.raw.shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(r.weights[0], 0.75f);
  EXPECT_FLOAT_EQ(r.weights[1], -0.25f);
  const float raw[] = {3.0f, 0.0f, -0.5f, -0.5f};
  for (int64_t i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(r.raw[i], raw[i]) << i;
  EXPECT_EQ(calls, 3) << "one call for y_c and one per channel";
  for (int64_t i = 0; i < A.numel(); ++i) EXPECT_EQ(A[i], activation()[i]) << "A was changed";
}

TEST(Exercise, AblationCamUnderANonLinearHeadAgainstDirectAblation) {
  // y = max over positions of ReLU(A_0 - 2 A_1) + 0.5 * sum(A_1) + 1, on a [3, 2, 3] activation.
  auto head = [](const Tensor& A) {
    float best = 0, total = 0;
    for (int64_t i = 0; i < 6; ++i) {
      best = std::max(best, std::max(0.0f, A[i] - 2 * A[6 + i] + A[12 + i]));
      total += A[6 + i];
    }
    return best + 0.5f * total + 1;
  };
  const Tensor A = Tensor::from({1, 5, 2, 0, 3, 1, /*1*/ 0.5, 1, 0, 2, 0, 1, /*2*/ 2, 0, 1, 1, 0, 3}, {3, 2, 3});
  const exercises::AblationCam r = exercises::ablation_cam(A, head);
  const float y = head(A);
  ASSERT_EQ(r.weights.shape(), Shape{3});
  for (int64_t k = 0; k < 3; ++k) {
    Tensor off = A.clone();
    for (int64_t i = 0; i < 6; ++i) off[k * 6 + i] = 0;
    EXPECT_NEAR(r.weights[k], (y - head(off)) / y, 1e-6) << "channel " << k;
  }
  for (int64_t i = 0; i < 6; ++i) {
    float want = 0;
    for (int64_t k = 0; k < 3; ++k) want += r.weights[k] * A[k * 6 + i];
    EXPECT_NEAR(r.raw[i], want, 1e-5) << "position " << i;
  }
}

TEST(Exercise, AblationCamRefusesAZeroScore) {
  try {
    exercises::ablation_cam(activation(), [](const Tensor&) { return 0.0f; });
    ADD_FAILURE() << "no error for y_c = 0";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("score"), std::string::npos) << e.what();
  }
}
