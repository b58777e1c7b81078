// Grader of exercise 2 (docs/EXERCISES.md): ctest -R Exercise.LeakyRelu
#include <gtest/gtest.h>
#include <malloc.h>

#include "core/allocator.h"
#include "exercises/leaky_relu.h"
#include "gradcheck.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Exercise, LeakyReluForwardAndBackwardByHand) {
  Variable x(Tensor::from({-2.0f, -0.5f, 0.0f, 0.5f, 3.0f}, {5}), true);
  Variable y = exercises::leaky_relu(x, 0.1f);
  const std::vector<float> want{-0.2f, -0.05f, 0.0f, 0.5f, 3.0f}, dwant{0.1f, 0.1f, 0.1f, 1.0f, 1.0f};
  for (int64_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(y.data()[i], want[static_cast<size_t>(i)]) << i;
  sum(y).backward();
  for (int64_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(x.grad()[i], dwant[static_cast<size_t>(i)]) << i;
}

TEST(Exercise, LeakyReluGradcheck) {
  Rng rng(12);
  gradcheck([](auto& v) { return exercises::leaky_relu(v[0], 0.2f); }, {random_tensor({4, 6}, rng)}, {true});
}

// The heap in use, tensor storage included (its blocks come from malloc once the cache is off).
static size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

TEST(Exercise, LeakyReluKeepsABitMaskOnly) {
  const int64_t n = int64_t{1} << 20;
  const size_t out_bytes = static_cast<size_t>(n) * sizeof(float);
  const size_t limit = storage_cache_limit();
  set_storage_cache_limit(0);  // every tensor from malloc, so heap_bytes sees it
  {
    Variable x(Tensor::full({n}, -1.0f), true);
    const size_t before = heap_bytes();
    Variable y = exercises::leaky_relu(x);
    const size_t cost = heap_bytes() - before;
    EXPECT_TRUE(x.data().storage_unique()) << "the backward closure keeps x";
    EXPECT_TRUE(y.data().storage_unique()) << "the backward closure keeps the output: a mask is enough";
    // The output, n/8 bytes of mask and 64 KiB for bookkeeping; a byte per element (n) would not fit.
    EXPECT_LE(cost, out_bytes + n / 8 + (64 << 10)) << "recording leaky_relu cost " << cost << " bytes, the output "
                                                    << out_bytes << ": keep one bit per element";
    EXPECT_GE(cost, out_bytes);
  }
  set_storage_cache_limit(limit);
}
