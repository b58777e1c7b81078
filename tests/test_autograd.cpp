// autograd/: the engine (order, accumulation, freezing, retain_grad, hooks, no-grad, release) and the
// basic ops by finite differences.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "core/allocator.h"
#include "gradcheck.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Autograd, ChainAndAccumulation) {
  // f = sum(a*b + a) -> df/da = b + 1, df/db = a
  Variable a(Tensor::from({1, 2, 3}, {3}), true), b(Tensor::from({4, 5, 6}, {3}), true);
  Variable f = sum(add(mul(a, b), a));
  EXPECT_FLOAT_EQ(f.item(), 4 + 10 + 18 + 6);
  f.backward();
  EXPECT_FLOAT_EQ(a.grad()[0], 5);
  EXPECT_FLOAT_EQ(a.grad()[2], 7);
  EXPECT_FLOAT_EQ(b.grad()[1], 2);
}

TEST(Autograd, DiamondGraphVisitsEachNodeOnce) {
  Variable x(Tensor::from({2}, {1}), true);
  Variable y = mul(x, x);        // x^2
  Variable z = add(y, y);        // 2x^2
  Variable w = sum(mul(z, y));   // 2x^4 -> 8x^3 = 64
  w.backward();
  EXPECT_FLOAT_EQ(x.grad()[0], 64);
}

TEST(Autograd, FrozenAndNoGradRecordNothing) {
  Variable w(Tensor::from({1, 2}, {2}), false);
  Variable x(Tensor::from({3, 4}, {2}), false);
  Variable y = mul(w, x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());  // nothing recorded below a value that needs no gradient
  Variable p(Tensor::from({1, 2}, {2}), true);
  {
    NoGradGuard ng;
    EXPECT_FALSE(mul(p, x).requires_grad());
  }
  Variable q = sum(mul(p, x));
  EXPECT_THROW(sum(mul(w, x)).backward(), Error);
  q.backward();
  EXPECT_FALSE(w.has_grad());
  EXPECT_FLOAT_EQ(p.grad()[1], 4);
}

TEST(Autograd, RetainGradHooksAndCutting) {
  Variable a(Tensor::from({1, 2}, {2}), true);
  Variable h = scale(a, 3);
  h.retain_grad();
  Tensor seen;
  h.register_hook([&](const Tensor& g) { seen = g.clone(); });
  Variable m = mul(h, h);
  Variable loss = sum(m);
  loss.backward();
  EXPECT_FLOAT_EQ(h.grad()[1], 12);  // d(h^2)/dh = 2h = 12
  EXPECT_FLOAT_EQ(seen[0], 6);
  EXPECT_FALSE(m.has_grad());        // intermediate, not retained: freed
  EXPECT_FLOAT_EQ(a.grad()[0], 18);  // 2h * 3
  EXPECT_TRUE(m.is_leaf());          // graph released after backward

  // A value made a leaf mid-graph stops back-propagation there (explain's head-only backward).
  Variable b(Tensor::from({1, 2}, {2}), true);
  Variable c = scale(b, 2);
  c.set_requires_grad(true);
  sum(mul(c, c)).backward();
  EXPECT_FLOAT_EQ(c.grad()[0], 4);
  EXPECT_FALSE(b.has_grad());
}

TEST(Autograd, OutputsAreFreedAsSoonAsTheirConsumersAreDone) {
  // A chain of 4 MiB values. By the time the bottom leaf's gradient is complete, the values above it are
  // gone (only its gradient is new), unless the caller holds one or asks to retain the graph.
  const int64_t n = int64_t{1} << 20;
  const size_t mib4 = static_cast<size_t>(n) * sizeof(float);
  Variable x(Tensor::full({n}, 1.0f), true);
  const size_t before = storage_use().live_bytes;
  size_t at_leaf = 0;
  x.register_hook([&](const Tensor&) { at_leaf = storage_use().live_bytes; });
  Variable held = scale(x, 3);  // the caller keeps this one
  Variable top = sum(scale(scale(scale(held, 2), 5), 7));  // (temporaries die here, not during backward)
  top.backward();
  // Live above `before`: held (4 MiB) and x's gradient (4 MiB); the three values above held were freed.
  EXPECT_GE(at_leaf, before + 2 * mib4);
  EXPECT_LT(at_leaf, before + 3 * mib4) << "values above the held one were still alive at the bottom";
  EXPECT_FLOAT_EQ(held.data()[n - 1], 3.0f);
  EXPECT_FLOAT_EQ(x.grad()[0], 3.0f * 2 * 5 * 7);

  // retain_graph: the values stay (the graph links them to `loss` anyway), and a second backward through
  // the retained closures gives the same gradient again.
  Variable y(Tensor::full({n}, 1.0f), true);
  const size_t before_y = storage_use().live_bytes;
  size_t at_leaf_y = 0;
  y.register_hook([&](const Tensor&) { at_leaf_y = storage_use().live_bytes; });
  Variable loss = sum(scale(scale(scale(y, 2), 5), 7));
  loss.backward(true);
  EXPECT_GE(at_leaf_y, before_y + 4 * mib4);  // three values and the gradient
  loss.backward();
  EXPECT_FLOAT_EQ(y.grad()[0], 2 * 2 * 5 * 7);
}

TEST(Autograd, GradcheckBasicOps) {
  Rng rng(5);
  auto a = random_tensor({3, 4}, rng), b = random_tensor({3, 4}, rng);
  gradcheck([](auto& v) { return add(mul(v[0], v[1]), sub(v[0], scale(v[1], 0.5f))); }, {a, b}, {true, true});
  gradcheck([](auto& v) { return reshape(mean(mul(v[0], v[0])), {1}); }, {a}, {true});
  gradcheck([](auto& v) { return select_column(v[0], 2); }, {a}, {true});
}
