// Grader of exercise 6 (docs/EXERCISES.md): ctest -R Exercise.SgdMomentum
// First one parameter by hand, then the PyTorch fixture: three steps of SGD(lr 0.05, momentum 0.9,
// weight decay 5e-4) on tests/test_parity.cpp's network, every parameter's movement and momentum buffer
// against torch's (tests/fixtures/parity.bin, entries sq.sgd.*).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "exercises/sgd_momentum.h"
#include "parity_net.h"

using namespace cxr;
using namespace cxr::testing;

TEST(Exercise, SgdMomentumThreeStepsByHand) {
  // p = 1, gradient 0.5 at every step, lr 0.1, momentum 0.9, weight decay 0.1:
  //   step 1: d = 0.5 + 0.1 * 1 = 0.6,        buf = 0.6,                     p = 1 - 0.06 = 0.94
  //   step 2: d = 0.5 + 0.094 = 0.594,        buf = 0.54 + 0.594 = 1.134,    p = 0.94 - 0.1134 = 0.8266
  //   step 3: d = 0.5 + 0.08266 = 0.58266,    buf = 1.0206 + 0.58266 = 1.60326, p = 0.8266 - 0.160326 = 0.666274
  Tensor p = Tensor::from({1.0f}, {1}), g = Tensor::from({0.5f}, {1}), buf;
  const float want_p[] = {0.94f, 0.8266f, 0.666274f}, want_buf[] = {0.6f, 1.134f, 1.60326f};
  for (int step = 0; step < 3; ++step) {
    exercises::sgd_momentum_step(p, g, buf, 0.1f, 0.9f, 0.1f);
    ASSERT_TRUE(buf.defined()) << "no momentum buffer after step " << step + 1;
    EXPECT_NEAR(p[0], want_p[step], 1e-6) << "p after step " << step + 1;
    EXPECT_NEAR(buf[0], want_buf[step], 1e-6) << "buffer after step " << step + 1;
  }
}

TEST(Exercise, SgdMomentumMatchesPyTorchOnTheParityNetwork) {
  const Fixture& f = fixture();
  Case c("sq");
  auto net = c.network();
  net->train();
  std::map<std::string, Tensor> buffers;
  for (int step = 0; step < 3; ++step) {
    for (auto& [name, v] : net->named_parameters()) v->zero_grad();
    c.loss(*net).backward();
    for (auto& [name, v] : net->named_parameters())
      exercises::sgd_momentum_step(v->data(), v->grad(), buffers[name], 0.05f, 0.9f, 5e-4f);
  }
  for (auto& [name, v] : net->named_parameters()) {
    SCOPED_TRACE(name);
    const Tensor& before = f["sq.w." + name];
    const Tensor& torch_after = f["sq.sgd." + name];
    const Tensor& torch_buf = f["sq.sgd.state." + name + ".momentum_buffer"];
    // What the steps moved, relative to that movement (tests/test_parity.cpp explains why not to p).
    Tensor ours = Tensor::empty(before.shape()), theirs = Tensor::empty(before.shape());
    for (int64_t i = 0; i < before.numel(); ++i) {
      ours[i] = v->data()[i] - before[i];
      theirs[i] = torch_after[i] - before[i];
    }
    ASSERT_TRUE(buffers[name].defined());
    if (bias_before_batchnorm(name)) {  // a gradient of rounding noise (~1e-7): only weight decay moves it
      EXPECT_LE(relative_error(ours, theirs, 1e-30), 2e-3);
      for (int64_t i = 0; i < torch_buf.numel(); ++i) EXPECT_NEAR(buffers[name][i], torch_buf[i], 1e-6);
      continue;
    }
    EXPECT_LE(relative_error(ours, theirs, 1e-30), 1e-4) << "movement in 3 steps";
    EXPECT_LE(relative_error(buffers[name], torch_buf), 1e-4) << "momentum buffer";
  }
}
