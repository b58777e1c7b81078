// Grader of exercise 8 (docs/EXERCISES.md): ctest -R Exercise.LiveBytes
// The prediction comes first, the measurement after: the numbers must be worked out from how autograd
// keeps and frees values (autograd/variable.h, "Rules that keep backward lean"), not read off a run.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "exercises/live_bytes.h"

using namespace cxr;

namespace {

// The graph of exercises/live_bytes.h; a and b die when this returns.
Variable build(const Variable& x) {
  Variable a = scale(x, 2);
  Variable b = mul(a, x);
  return sum(b);
}

struct Measured {
  size_t after_forward, peak_in_backward, after_backward;
};

Measured measure(int64_t n, bool retain) {
  Variable x(Tensor::full({n}, 1.5f), true);
  const size_t base = storage_use().live_bytes;
  Variable loss = build(x);
  Measured m{};
  m.after_forward = storage_use().live_bytes - base;
  reset_storage_peak();
  loss.backward(retain);
  m.peak_in_backward = storage_use().peak_bytes - base;
  m.after_backward = storage_use().live_bytes - base;
  EXPECT_FLOAT_EQ(x.grad()[n - 1], 4 * 1.5f);  // d(2 x^2)/dx = 4x: the graph is the one described
  return m;
}

}  // namespace

TEST(Exercise, LiveBytesPredictedBeforeMeasured) {
  for (int64_t n : {int64_t{16}, int64_t{1} << 10, int64_t{1} << 18}) {
    SCOPED_TRACE(str("n = ", n));
    const exercises::LiveBytes p = exercises::predict_live_bytes(n);
    const Measured m = measure(n, false);
    EXPECT_EQ(p.after_forward, m.after_forward) << "after the forward";
    EXPECT_EQ(p.peak_in_backward, m.peak_in_backward) << "peak during backward";
    EXPECT_EQ(p.after_backward, m.after_backward) << "after backward";
    EXPECT_EQ(p.after_retained_backward, measure(n, true).after_backward) << "after backward(retain_graph=true)";
  }
}
