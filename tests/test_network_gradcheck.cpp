// A whole small network checked by finite differences, end to end:
//   conv -> batch-norm (train) -> relu -> max-pool -> conv -> relu -> adaptive avg-pool -> flatten -> linear
//   -> cross-entropy
// on a batch of non-square images, with strides 1 and 2 and paddings 0, 1 and 2, checking the gradient of
// every parameter and of the input. Ops that are correct alone can still be wired wrongly together (a
// transposed gradient that happens to be square, a stride forgotten in backward): this catches that.
//
// Finite differences cross ReLU and max-pool kinks: gradcheck halves the step until two differences agree.
// A first-layer weight moves every position of its channel, so at any step some of them switch: that
// blurs the reference of conv1.weight by about 1% of its largest entry, and its smaller entries are
// compared to 2% of the largest (scale_floor) instead of 1%.
#include <gtest/gtest.h>

#include <cstdio>

#include "gradcheck.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/pool.h"

using namespace cxr;
using namespace cxr::testing;

struct NetConfig {
  Shape input;        // [N, C, H, W]
  int c1, c2;         // conv output channels
  Conv2dOptions conv1, conv2;
  int pool_out_h, pool_out_w;
  std::vector<int> targets;
  CrossEntropyOptions ce;
};

static void check_network(const NetConfig& cfg) {
  Rng rng(21);
  const int64_t cin = cfg.input[1];
  std::vector<Tensor> values{
      random_tensor(cfg.input, rng),                   // 0 x
      random_tensor({cfg.c1, cin, 3, 3}, rng, -0.5f, 0.5f),  // 1 conv1 weight
      random_tensor({cfg.c1}, rng, -0.1f, 0.1f),        // 2 conv1 bias
      random_tensor({cfg.c1}, rng, 0.5f, 1.5f),         // 3 bn weight
      random_tensor({cfg.c1}, rng, -0.2f, 0.2f),        // 4 bn bias
      random_tensor({cfg.c2, cfg.c1, 3, 3}, rng, -0.5f, 0.5f),  // 5 conv2 weight
      random_tensor({cfg.c2}, rng, 0.0f, 0.2f),         // 6 conv2 bias
      Tensor(),                                          // 7 linear weight (shape known after a forward)
      Tensor(),                                          // 8 linear bias
  };
  const int64_t features = cfg.c2 * cfg.pool_out_h * cfg.pool_out_w;
  const int64_t classes = 3;
  values[7] = random_tensor({classes, features}, rng, -0.5f, 0.5f);
  values[8] = random_tensor({classes}, rng, -0.1f, 0.1f);

  auto net = [&cfg](std::vector<Variable>& v) {
    BatchNormState st;  // fresh per call: the running statistics must not drift between evaluations
    Variable h = conv2d(v[0], v[1], v[2], cfg.conv1);
    h = batch_norm2d(h, v[3], v[4], st, /*training=*/true);
    h = relu(h);
    h = max_pool2d(h, 2, 2);
    h = conv2d(h, v[5], v[6], cfg.conv2);
    h = relu(h);
    h = adaptive_avg_pool2d(h, cfg.pool_out_h, cfg.pool_out_w);
    h = flatten(h);
    h = linear(h, v[7], v[8]);
    return reshape(cross_entropy(h, cfg.targets, cfg.ce), {1});
  };
  GradcheckOptions opt;
  opt.scale_floor = 2e-2f;
  opt.max_checks = 150;
  const GradcheckResult r = gradcheck(net, values, std::vector<bool>(values.size(), true), opt);
  std::printf("[ network  ] input %s: worst gradcheck error %.3g; %lld entries compared (a zero would pass in %lld), "
              "%lld on kinks left out\n",
              to_string(cfg.input).c_str(), r.worst, static_cast<long long>(r.checked), static_cast<long long>(r.blind),
              static_cast<long long>(r.kinks));
}

TEST(NetworkGradcheck, StridedPaddedNonSquareBatch) {
  NetConfig cfg;
  cfg.input = {2, 3, 13, 10};
  cfg.c1 = 4;
  cfg.c2 = 5;
  cfg.conv1 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};  // 13x10 -> 7x5 -> pool 3x2
  cfg.conv2 = {.stride_h = 1, .stride_w = 1, .pad_h = 2, .pad_w = 2};  // 3x2 -> 5x4
  cfg.pool_out_h = 2;
  cfg.pool_out_w = 3;  // uneven adaptive windows over 5x4
  cfg.targets = {0, 2};
  check_network(cfg);
}

TEST(NetworkGradcheck, UnpaddedThenStridedWithWeightedSmoothedLoss) {
  NetConfig cfg;
  cfg.input = {3, 2, 12, 17};
  cfg.c1 = 3;
  cfg.c2 = 4;
  cfg.conv1 = {.stride_h = 1, .stride_w = 1, .pad_h = 0, .pad_w = 0};  // 12x17 -> 10x15 -> pool 5x7
  cfg.conv2 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};  // 5x7 -> 3x4
  cfg.pool_out_h = 2;
  cfg.pool_out_w = 2;
  cfg.targets = {1, 0, 2};
  cfg.ce.class_weights = {0.5f, 2.0f, 1.0f};
  cfg.ce.label_smoothing = 0.1f;
  check_network(cfg);
}
