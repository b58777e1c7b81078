// Full-width VGG-16 (torchvision's, 138M parameters with 1000 classes; here 3) at 224 x 224 trains: a few
// SGD steps on one fixed batch of 8 synthetic X-rays make its loss fall. This is the network of the
// mission at its real size; it takes about a minute on one core.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "data/loader.h"
#include "data/synth.h"
#include "layers/loss.h"
#include "layers/optim.h"
#include "models/model.h"

using namespace cxr;

TEST(Vgg16Full, LossFallsOnAFixedBatchAt224) {
  ModelConfig c;
  c.arch = "vgg16";
  c.width = 1.0f;
  c.input_size = 224;
  c.in_channels = 3;
  c.num_classes = 3;
  c.dropout = 0.0f;  // a fixed batch: no dropout noise in the comparison of losses
  c.seed = 1;
  auto model = make_model(c);
  ASSERT_EQ(model->parameter_count(), 134272835);  // torchvision's vgg16(num_classes=3)

  // Eight synthetic chest X-rays, resized to 224 and made 3-channel as the loader would.
  data::SynthOptions so;
  so.size = 128;
  const std::vector<std::string> classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  Tensor x = Tensor::empty({8, 3, 224, 224});
  std::vector<int> y(8);
  for (int i = 0; i < 8; ++i) {
    y[i] = i % 3;
    data::SynthSample s = data::render_sample(so, classes[y[i]], data::sample_seed(3, "train", classes[y[i]], i));
    Tensor img = data::preprocess_image(s.image, 224, 3, image::normalisation_preset("none"));
    x.slice(i, i + 1).copy_from(img);
  }

  SGD opt(model->named_parameters(), 0.01f, SGDOptions{0.9f, 0.0f, 0.0f, false});
  model->train();
  std::vector<float> losses;
  auto t0 = std::chrono::steady_clock::now();
  const int steps = 4;
  for (int step = 0; step < steps; ++step) {
    Variable loss = cross_entropy((*model)(Variable(x)), y);
    losses.push_back(loss.item());
    ASSERT_TRUE(std::isfinite(losses.back())) << "step " << step;
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    NoGradGuard ng;
    losses.push_back(cross_entropy((*model)(Variable(x)), y).item());
  }
  std::printf("VGG-16 224x224 batch 8: losses");
  for (float l : losses) std::printf(" %.4f", l);
  std::printf("; %.1f s per training step, %.2f img/s\n", secs / steps, 8.0 * steps / secs);
  // Without batch-norm and at a safe learning rate, VGG-16 starts slowly: every step must lower the loss.
  for (size_t i = 1; i < losses.size(); ++i) EXPECT_LT(losses[i], losses[i - 1]) << "step " << i;
  EXPECT_LT(losses.back(), losses.front() - 0.005f) << "the loss did not fall on a fixed batch";
}
