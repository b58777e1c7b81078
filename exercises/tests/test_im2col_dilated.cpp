// Grader of exercise 5 (docs/EXERCISES.md): ctest -R Exercise.Im2col
// The columns are checked the way conv2d uses them: W [K, C*kh*kw] * cols through OpenBLAS's SGEMM must
// give the direct seven-loop convolution (tests/direct_conv.h), for strides, paddings and dilations.
#include <gtest/gtest.h>

#include <cmath>

#include "core/blas.h"
#include "direct_conv.h"
#include "exercises/im2col_dilated.h"
#include "gradcheck.h"
#include "layers/im2col.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

exercises::DilatedGeometry geometry(const ConvDims& d) {
  return {d.C, d.H, d.W, d.kh, d.kw, d.sh, d.sw, d.ph, d.pw, d.dh, d.dw, d.Ho(), d.Wo()};
}

// The convolution of image n through im2col_dilated and one SGEMM, against the direct definition.
void expect_gemm_matches_direct(const ConvDims& d, uint64_t seed) {
  SCOPED_TRACE(str("C ", d.C, " H ", d.H, " W ", d.W, " K ", d.K, " kernel ", d.kh, "x", d.kw, " stride ", d.sh, ",",
                   d.sw, " pad ", d.ph, ",", d.pw, " dilation ", d.dh, ",", d.dw));
  Rng rng(seed);
  Tensor x = random_tensor({d.N, d.C, d.H, d.W}, rng), w = random_tensor({d.K, d.C, d.kh, d.kw}, rng);
  const ConvReference ref = direct_convolution(d, x, w, Tensor(), Tensor());
  const exercises::DilatedGeometry g = geometry(d);
  ASSERT_EQ(exercises::dilated_out_size(d.H, d.kh, d.sh, d.ph, d.dh), d.Ho());
  const int64_t P = g.Ho * g.Wo, R = g.col_rows();
  Tensor cols = Tensor::full({R, P}, NAN);  // NaN: a column left unwritten shows up in the product
  Tensor y = Tensor::empty({d.K, P});
  for (int64_t n = 0; n < d.N; ++n) {
    exercises::im2col_dilated(x.data() + n * d.C * d.H * d.W, g, cols.data());
    sgemm(false, false, d.K, P, R, 1.0f, w.data(), R, cols.data(), P, 0.0f, y.data(), P);
    for (int64_t i = 0; i < d.K * P; ++i) {
      const double want = ref.y[static_cast<size_t>(n * d.K * P + i)];
      ASSERT_NEAR(y[i], want, 1e-4 * (1 + std::abs(want))) << "image " << n << ", output " << i;
    }
  }
}

}  // namespace

TEST(Exercise, Im2colDilatedStride2AndDilation2MatchTheDirectConvolution) {
  expect_gemm_matches_direct({.N = 2, .C = 3, .H = 9, .W = 11, .K = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 2,
                              .pw = 2, .dh = 2, .dw = 2}, 1);
  expect_gemm_matches_direct({.N = 1, .C = 2, .H = 8, .W = 8, .K = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1,
                              .pw = 1, .dh = 1, .dw = 1}, 2);
}

TEST(Exercise, Im2colDilatedUnequalAxesMatchTheDirectConvolution) {
  // Different stride, padding and dilation per axis, a non-square kernel, and no padding at all.
  expect_gemm_matches_direct({.N = 2, .C = 2, .H = 10, .W = 13, .K = 3, .kh = 2, .kw = 3, .sh = 1, .sw = 2, .ph = 1,
                              .pw = 0, .dh = 3, .dw = 2}, 3);
  expect_gemm_matches_direct({.N = 1, .C = 1, .H = 7, .W = 7, .K = 2, .kh = 3, .kw = 3, .sh = 3, .sw = 1, .ph = 0,
                              .pw = 3, .dh = 1, .dw = 3}, 4);
}

// With dilation 1 the columns are exactly layers/im2col.h's (the library's fast version).
TEST(Exercise, Im2colDilatedWithoutDilationEqualsTheLibrary) {
  Rng rng(5);
  const ConvDims d{.N = 1, .C = 3, .H = 7, .W = 6, .K = 1, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
  Tensor x = random_tensor({d.C, d.H, d.W}, rng);
  const ConvGeometry lg{d.C, d.H, d.W, d.kh, d.kw, d.sh, d.sw, d.ph, d.pw, d.Ho(), d.Wo()};
  Tensor want = Tensor::empty({lg.col_rows(), d.Ho() * d.Wo()}), got = Tensor::full(want.shape(), NAN);
  im2col(x.data(), lg, 0, lg.Ho, want.data());
  exercises::im2col_dilated(x.data(), geometry(d), got.data());
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got[i], want[i]) << "cols entry " << i;
}
