// micrograd's demo in cxr: a small MLP learns the two-moons data set (two interleaved half circles, 100
// points), trained with cxr's autograd (linear, relu, cross_entropy, backward) and Adam, then its decision
// boundary is drawn into two_moons.png (in the current folder, or the path given as the first argument).
// micrograd (github.com/karpathy/micrograd) uses a max-margin loss on one output and plain SGD; here the
// two classes get two logits and cross-entropy, as cxr's VGGs do. tests/test_examples.cpp compares the
// output with the block docs/AUTOGRAD.md shows.
//
//   cmake --build build --target example_two_moons && ./build/examples/example_two_moons
#include <cmath>
#include <cstdio>
#include <numbers>
#include <string>
#include <vector>

#include "core/init.h"
#include "core/rng.h"
#include "core/threading.h"
#include "examples/tiny_png.h"
#include "layers/activation.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/optim.h"

using namespace cxr;

namespace {

// scikit-learn's make_moons(n, noise): the upper half circle (class 0) and a shifted lower one (class 1).
void make_moons(int n, float noise, Rng& rng, std::vector<float>& xy, std::vector<int>& labels) {
  for (int i = 0; i < n; ++i) {
    const int cls = i < n / 2 ? 0 : 1, j = cls ? i - n / 2 : i, m = cls ? n - n / 2 : n / 2;
    const float t = std::numbers::pi_v<float> * static_cast<float>(j) / static_cast<float>(m - 1);
    const float x = cls ? 1 - std::cos(t) : std::cos(t), y = cls ? 0.5f - std::sin(t) : std::sin(t);
    xy.push_back(x + noise * rng.normal());
    xy.push_back(y + noise * rng.normal());
    labels.push_back(cls);
  }
}

struct Mlp {  // 2 -> 16 -> 16 -> 2, PyTorch's default initialisation of nn.Linear
  Variable W1, b1, W2, b2, W3, b3;
  explicit Mlp(Rng& rng) {
    auto layer = [&](int64_t out, int64_t in, Variable& W, Variable& b) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(in));
      Tensor w = Tensor::empty({out, in}), bias = Tensor::empty({out});
      uniform_(w, -bound, bound, rng);
      uniform_(bias, -bound, bound, rng);
      W = Variable(w, true);
      b = Variable(bias, true);
    };
    layer(16, 2, W1, b1);
    layer(16, 16, W2, b2);
    layer(2, 16, W3, b3);
  }
  Variable operator()(const Variable& x) const {
    return linear(relu(linear(relu(linear(x, W1, b1)), W2, b2)), W3, b3);
  }
  NamedParameters parameters() {
    return {{"W1", &W1}, {"b1", &b1}, {"W2", &W2}, {"b2", &b2}, {"W3", &W3}, {"b3", &b3}};
  }
};

int correct(const Tensor& logits, const std::vector<int>& labels) {
  int ok = 0;
  for (size_t i = 0; i < labels.size(); ++i)
    ok += (logits[2 * static_cast<int64_t>(i) + 1] > logits[2 * static_cast<int64_t>(i)] ? 1 : 0) == labels[i];
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  set_num_threads(1);  // tiny products: one thread, and the same bits on every machine's thread count
  Rng rng(42);
  std::vector<float> xy;
  std::vector<int> labels;
  const int n = 100;
  make_moons(n, 0.1f, rng, xy, labels);
  const Variable x(Tensor::from(xy, {n, 2}));

  Mlp mlp(rng);
  Adam opt(mlp.parameters(), /*lr=*/0.02f);
  for (int step = 1; step <= 200; ++step) {  // the whole data set is one batch
    Variable logits = mlp(x);
    Variable loss = cross_entropy(logits, labels);
    if (step == 1 || step % 40 == 0)
      std::printf("step %3d  loss %.4f  accuracy %d/%d\n", step, loss.data()[0], correct(logits.data(), labels), n);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }

  // The decision boundary: the class-1 probability on a grid over the data, blue (class 0) to red
  // (class 1), the boundary where they meet; the points on top, dark for class 0, white for class 1.
  const int W = 240, H = 160;
  const float x0 = -1.5f, x1 = 2.5f, y0 = -1.2f, y1 = 1.47f;
  std::vector<float> grid;
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) {
      grid.push_back(x0 + (x1 - x0) * (static_cast<float>(c) + 0.5f) / W);
      grid.push_back(y1 - (y1 - y0) * (static_cast<float>(r) + 0.5f) / H);
    }
  Tensor g;
  {
    NoGradGuard no_grad;  // inference: nothing recorded
    g = mlp(Variable(Tensor::from(grid, {W * H, 2}))).data();
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(W * H * 3));
  for (int i = 0; i < W * H; ++i) {
    const float p1 = 1.0f / (1.0f + std::exp(g[2 * i] - g[2 * i + 1]));  // softmax of two logits
    rgb[3 * i] = static_cast<uint8_t>(60 + 170 * p1);
    rgb[3 * i + 1] = 90;
    rgb[3 * i + 2] = static_cast<uint8_t>(230 - 170 * p1);
  }
  for (int i = 0; i < n; ++i) {
    const int c = static_cast<int>((xy[2 * i] - x0) / (x1 - x0) * W), r = static_cast<int>((y1 - xy[2 * i + 1]) / (y1 - y0) * H);
    for (int dr = -1; dr <= 1; ++dr)
      for (int dc = -1; dc <= 1; ++dc) {
        const int rr = r + dr, cc = c + dc;
        if (rr < 0 || rr >= H || cc < 0 || cc >= W) continue;
        for (int k = 0; k < 3; ++k) rgb[3 * (rr * W + cc) + k] = labels[i] ? 255 : 0;
      }
  }
  const std::string path = argc > 1 ? argv[1] : "two_moons.png";
  if (!examples::write_png(path, W, H, rgb)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }
  std::printf("decision boundary: %s (%d x %d)\n", path.c_str(), W, H);
}
