// docs/IM2COL.md's lettered example with numbers: the 3 x 3 image a..i = 1..9, a 2 x 2 kernel, stride 1.
// It prints the columns im2col writes, the product W * cols, the same convolution by six nested loops and
// by cxr's conv2d, the padded case, and the adjoint identity <im2col x, c> = <x, col2im c> that makes
// col2im the gradient of im2col. tests/test_examples.cpp compares the output with the block IM2COL.md shows.
//
//   cmake --build build --target example_im2col_by_hand && ./build/examples/example_im2col_by_hand
#include <cstdio>
#include <vector>

#include "core/blas.h"
#include "examples/print.h"
#include "layers/conv2d.h"
#include "layers/im2col.h"

using namespace cxr;
using cxr::examples::shown;

namespace {

void print_matrix(const char* title, const float* m, int64_t rows, int64_t cols) {
  std::printf("%s\n", title);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) std::printf(" %6.2f", shown(m[r * cols + c]));
    std::printf("\n");
  }
}

// The definition, written out: for every filter k and output position (oh, ow), the sum over input
// channels c and kernel offsets (i, j) of W[k, c, i, j] * x[c, oh*s - p + i, ow*s - p + j], 0 outside.
std::vector<float> direct_conv(const std::vector<float>& x, const std::vector<float>& w, const ConvGeometry& g,
                               int64_t K) {
  std::vector<float> y(K * g.Ho * g.Wo, 0.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow)
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t ih = oh * g.sh - g.ph + i, iw = ow * g.sw - g.pw + j;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              y[(k * g.Ho + oh) * g.Wo + ow] += w[((k * g.C + c) * g.kh + i) * g.kw + j] * x[(c * g.H + ih) * g.W + iw];
            }
  return y;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

int main() {
  // a b c     1 2 3
  // d e f  =  4 5 6
  // g h i     7 8 9
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Two filters, each a row of W [K, R]: filter 0 = top-left minus bottom-right, filter 1 = the mean.
  const int64_t K = 2;
  const std::vector<float> w = {1, 0, 0, -1, 0.25f, 0.25f, 0.25f, 0.25f};
  const ConvGeometry g{.C = 1, .H = 3, .W = 3, .kh = 2, .kw = 2, .sh = 1, .sw = 1, .ph = 0, .pw = 0, .Ho = 2, .Wo = 2};
  const int64_t R = g.col_rows(), N = g.Ho * g.Wo;

  std::vector<float> cols(R * N);
  im2col(x.data(), g, 0, g.Ho, cols.data());
  print_matrix("cols [R=4, N=4]: row r = kernel offset (i, j), column p = output position", cols.data(), R, N);

  std::vector<float> y(K * N);
  sgemm(false, false, K, N, R, 1.0f, w.data(), R, cols.data(), N, 0.0f, y.data(), N);
  print_matrix("y = W [K=2, R=4] * cols [4, 4]", y.data(), K, N);
  print_matrix("y by six nested loops", direct_conv(x, w, g, K).data(), K, N);
  const Variable yc = conv2d(Variable(Tensor::from(x, {1, 1, 3, 3})), Variable(Tensor::from(w, {2, 1, 2, 2})),
                             Variable(Tensor::zeros({2})));
  print_matrix("y by cxr's conv2d", yc.data().data(), K, N);

  // A 3 x 3 kernel with padding 1: 9 output positions, and windows that hang over the edge read zeros.
  const ConvGeometry gp{.C = 1, .H = 3, .W = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .Ho = 3, .Wo = 3};
  std::vector<float> colsp(gp.col_rows() * 9);
  im2col(x.data(), gp, 0, gp.Ho, colsp.data());
  print_matrix("padding 1, 3 x 3 kernel: row (i, j) = (0, 0) of cols [9, 9]", colsp.data(), 1, 9);

  // col2im of all ones: how many windows cover each pixel (e is in all four).
  std::vector<float> ones(R * N, 1.0f), cover(9, 0.0f);
  col2im(ones.data(), g, 0, g.Ho, cover.data());
  print_matrix("col2im(ones): windows covering each pixel", cover.data(), 3, 3);

  // The adjoint identity, with c[r, p] = r - 2p + 1 (any numbers would do).
  std::vector<float> c(R * N), back(9, 0.0f);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t p = 0; p < N; ++p) c[r * N + p] = static_cast<float>(r - 2 * p + 1);
  col2im(c.data(), g, 0, g.Ho, back.data());
  std::printf("<im2col x, c> = %.1f\n", dot(cols, c));
  std::printf("<x, col2im c> = %.1f\n", dot(x, back));
}
