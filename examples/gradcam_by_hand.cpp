// Grad-CAM by hand (docs/GRADCAM.md): one image's activation A [2, 3, 3] (two feature maps of 3 x 3) and
// two heads on it. autograd gives dy_c/dA; the rest is the paper's two formulas, written out:
//   alpha_k = mean_ij dy_c/dA_k(i, j),   map = ReLU(sum_k alpha_k A_k), then min-max to [0, 1].
// 1. A linear head on the flattened activation: dy_c/dA is the class's weight row, reshaped.
// 2. A global-average-pooled head (CAM's network, Zhou et al. 2016): dy_c/dA_k(i, j) = w_k^c / 9 at every
//    position, so Grad-CAM is CAM (sum_k w_k^c A_k) divided by 9, the same map once min-max scaled.
// tests/test_examples.cpp compares the output with the block GRADCAM.md shows.
//
//   cmake --build build --target example_gradcam_by_hand && ./build/examples/example_gradcam_by_hand
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "examples/print.h"
#include "layers/linear.h"
#include "layers/pool.h"

using namespace cxr;
using cxr::examples::shown;

namespace {

constexpr int64_t kC = 2, kH = 3, kW = 3, kHW = kH * kW;

void print_map(const char* title, const std::vector<float>& m) {
  std::printf("%s\n", title);
  for (int64_t i = 0; i < kH; ++i) {
    for (int64_t j = 0; j < kW; ++j) std::printf(" %9.6f", shown(m[i * kW + j]));
    std::printf("\n");
  }
}

// dy_c/dA [2, 3, 3], one 3 x 3 map per feature map.
void print_gradient(const Tensor& g, int c) {
  for (int64_t k = 0; k < kC; ++k) {
    const std::string title = "dy" + std::to_string(c) + "/dA_" + std::to_string(k);
    print_map(title.c_str(), std::vector<float>(g.data() + k * kHW, g.data() + (k + 1) * kHW));
  }
}

// dy_c/dA for the class-c score: a backward from the logits seeded with the one-hot vector of c.
Tensor gradient_of_class(Variable logits, const Variable& A, int c) {
  Tensor seed = Tensor::zeros(logits.shape());
  seed[c] = 1.0f;
  logits.backward(seed, /*retain_graph=*/true);
  return A.grad();
}

// The two formulas of Grad-CAM: weights alpha_k, then the weighted sum of the maps (not yet ReLU'd).
std::vector<float> grad_cam_raw(const Tensor& A, const Tensor& g, std::vector<float>& alpha) {
  alpha.assign(kC, 0.0f);
  std::vector<float> raw(kHW, 0.0f);
  for (int64_t k = 0; k < kC; ++k) {
    for (int64_t p = 0; p < kHW; ++p) alpha[k] += g[k * kHW + p] / kHW;
    for (int64_t p = 0; p < kHW; ++p) raw[p] += alpha[k] * A[k * kHW + p];
  }
  return raw;
}

// What cxr displays (explain/maps.cpp normalize_map): ReLU, then min-max scaling to [0, 1].
std::vector<float> relu_minmax(std::vector<float> m) {
  for (float& v : m) v = std::max(v, 0.0f);
  const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
  const float a = *lo, b = *hi;
  for (float& v : m) v = (v - a) / (b - a);
  return m;
}

}  // namespace

int main() {
  // Feature map 0 fires at the top left, feature map 1 at the bottom right.
  const Tensor acts = Tensor::from({3, 1, 0,  1, 0, 0,  0, 0, 0,     // A_0
                                    0, 0, 0,  0, 1, 1,  0, 1, 2},    // A_1
                                   {1, kC, kH, kW});
  const int c = 0;  // the class explained

  std::printf("1. linear head: y = W flatten(A) + b, W [2, 18]\n");
  {
    Variable A(acts, /*requires_grad=*/true);  // a leaf: the backward stops here, as explain's capture does
    // Class 0's row: +0.5 on the top row of map 0, -0.25 on all of map 1; class 1's row is its negative.
    std::vector<float> w = {0.5f, 0.5f, 0.5f, 0, 0, 0, 0, 0, 0,
                            -0.25f, -0.25f, -0.25f, -0.25f, -0.25f, -0.25f, -0.25f, -0.25f, -0.25f};
    for (int64_t n = 0; n < kC * kHW; ++n) w.push_back(-w[n]);
    const Variable W(Tensor::from(w, {2, kC * kHW})), b(Tensor::zeros({2}));
    Variable logits = linear(reshape(A, {1, kC * kHW}), W, b);
    cxr::examples::print("logits", logits.data());
    const Tensor g = gradient_of_class(logits, A, c);
    print_gradient(g, c);
    std::vector<float> alpha;
    const std::vector<float> raw = grad_cam_raw(acts, g, alpha);
    std::printf("alpha    %.6f %.6f\n", shown(alpha[0]), shown(alpha[1]));
    print_map("raw = sum_k alpha_k A_k", raw);
    print_map("Grad-CAM = ReLU, min-max", relu_minmax(raw));
  }

  std::printf("2. global-average-pooled head: y = w gap(A) + b, w [2, 2] (CAM's network)\n");
  {
    Variable A(acts, true);
    const Tensor w = Tensor::from({1, -0.5f, -1, 2}, {2, kC});
    Variable logits = linear(reshape(adaptive_avg_pool2d(A, 1, 1), {1, kC}), Variable(w), Variable(Tensor::zeros({2})));
    cxr::examples::print("logits", logits.data());
    const Tensor g = gradient_of_class(logits, A, c);
    print_gradient(g, c);
    std::vector<float> alpha;
    const std::vector<float> raw = grad_cam_raw(acts, g, alpha);
    std::printf("alpha    %.6f %.6f   (w_k / 9: %.6f %.6f)\n", shown(alpha[0]), shown(alpha[1]), w[c * kC] / 9.0f,
                w[c * kC + 1] / 9.0f);
    std::vector<float> cam(kHW, 0.0f);  // CAM: the class's weights on the maps themselves
    for (int64_t k = 0; k < kC; ++k)
      for (int64_t p = 0; p < kHW; ++p) cam[p] += w[c * kC + k] * acts[k * kHW + p];
    print_map("raw Grad-CAM", raw);
    print_map("CAM = sum_k w_k A_k", cam);
    const std::vector<float> a = relu_minmax(raw), b = relu_minmax(cam);
    float diff = 0.0f;
    for (int64_t p = 0; p < kHW; ++p) diff = std::max(diff, std::fabs(a[p] - b[p]));
    print_map("Grad-CAM = CAM after ReLU, min-max", a);
    std::printf("max |Grad-CAM - CAM| after min-max: %.6f\n", shown(diff));
  }
}
