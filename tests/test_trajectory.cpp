// Trajectory parity: a whole 50-step training run in cxr goes where the same run in PyTorch 1.13 goes.
// tests/fixtures/make_trajectory_fixtures.py (its docstring describes the run) trains cxr's VGG-11-BN at
// width 1/32 (grey 32 x 32 input, gap head) from fixed start weights on fixed batches, 10 epochs of 5
// batches of 8, with the trainer's per-epoch cosine schedule and label smoothing 0.1, once per optimizer
// (Nesterov SGD, Adam, AdamW); this test runs the same steps with cxr's model, loss and optimizers and
// compares the loss of every step, and every parameter and batch-norm buffer after steps 1, 10 and 50.
// Then, from PyTorch's own weights (so without the trajectory's error): batch-norm in eval mode, the
// --precise-bn pass (train/recalibrate.h) against torch.optim.swa_utils.update_bn, SWA's average
// (train/swa.h) against AveragedModel, and mixup's loss (train/mixup.h).
//
// Error measure, per tensor (tests/fixture_reader.h): max|cxr - torch| / max(max|torch|, 1e-3).
//
// Why a trajectory can be compared at all, and with what tolerance: two float32 implementations of the
// same step differ by rounding (summation order in convolutions, GEMMs and batch-norm's reductions), and a
// step's difference feeds the next step, so the difference grows with the steps. The fixture holds how far
// float32 rounding alone carries PyTorch from the same run in float64 (<opt>.f64.err, <opt>.f64.loss); cxr
// is a float32 implementation too, so the tolerance scales with that distance (tolerance() below) instead
// of being one number for step 1 and step 50. The growth stays bounded, not exponential, because the map
// from one step's weights to the next does not expand differences here: batch-norm makes each layer's
// output independent of its weights' scale, and the cosine schedule takes the step to 2.4% of lr0 in the
// last epoch. Measured (worst parameter, steps 1 / 10 / 50): Nesterov SGD 7.9e-6 / 4.1e-5 / 1.3e-4, Adam
// 1.9e-7 / 7.4e-7 / 3.1e-6, AdamW 1.0e-7 / 7.1e-7 / 7.9e-7: at most linear in the steps (docs/AUTOGRAD.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include <unistd.h>

#include "data/dataset.h"
#include "data/loader.h"
#include "fixture_reader.h"
#include "image/image.h"
#include "layers/loss.h"
#include "layers/optim.h"
#include "models/model.h"
#include "train/mixup.h"
#include "train/config.h"
#include "train/recalibrate.h"
#include "train/swa.h"

using namespace cxr;
using namespace cxr::testing;
namespace fs = std::filesystem;

namespace {

constexpr int kEpochs = 10, kBatches = 5, kBatch = 8;
constexpr int kSteps = kEpochs * kBatches;
const int kCheckpoints[] = {1, 10, 50};

const Fixture& fixture() {
  static Fixture f(std::string(CXR_FIXTURE_DIR) + "/trajectory.bin");
  return f;
}

// The generator's VGG: vgg11 layout at width 1/32 = channels 2, 4, 8, 8, 16, 16, 16, 16.
ModelConfig config() {
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = true;
  c.width = 1.0f / 32;
  c.in_channels = 1;
  c.input_size = 32;
  c.head = "gap";
  c.num_classes = 3;
  c.dropout = 0.0f;
  return c;
}

// A fresh cxr model holding the fixture's weights and buffers "<prefix><state_dict name>".
std::shared_ptr<Model> model_from(const std::string& prefix) {
  auto m = make_model(config());
  const Fixture& f = fixture();
  for (auto& [name, v] : m->named_parameters()) {
    const Tensor& src = f[prefix + name];
    EXPECT_EQ(src.shape(), v->shape()) << prefix + name;
    v->data().copy_from(src);
  }
  for (auto& [name, t] : m->named_buffers()) {
    const Tensor& src = f[prefix + name];
    EXPECT_EQ(src.numel(), t->numel()) << prefix + name;  // num_batches_tracked: torch's 0-dim, our [1]
    t->copy_from(src);
  }
  return m;
}

// Rows `rows` of data.images: [rows, 1, 32, 32].
Tensor gather(const std::vector<int64_t>& rows) {
  const Tensor& all = fixture()["data.images"];  // [40, 1, 32, 32]
  const int64_t per = all.numel() / all.size(0);
  Tensor x = Tensor::empty({static_cast<int64_t>(rows.size()), 1, 32, 32});
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy(all.data() + rows[i] * per, all.data() + (rows[i] + 1) * per, x.data() + i * per);
  return x;
}

// Batch b of epoch e (from 1): rows 8b .. 8b+7 of data.order[e - 1].
std::vector<int64_t> batch_rows(int epoch, int b) {
  const Tensor& order = fixture()["data.order"];  // [10, 40]
  std::vector<int64_t> rows;
  for (int i = 0; i < kBatch; ++i)
    rows.push_back(static_cast<int64_t>(order[(epoch - 1) * order.size(1) + b * kBatch + i]));
  return rows;
}

std::vector<int> labels_of(const std::vector<int64_t>& rows) {
  std::vector<int> y;
  for (int64_t r : rows) y.push_back(static_cast<int>(fixture()["data.labels"][r]));
  return y;
}

// The conv biases that a batch-norm follows: frozen in the Adam runs (see the generator for why).
std::set<std::string> pre_bn_biases(Model& m) {
  std::set<std::string> out;
  auto layers = m.layers();
  for (size_t i = 0; i + 1 < layers.size(); ++i)
    if (layers[i].module->type() == "Conv2d" && layers[i + 1].module->type() == "BatchNorm2d")
      out.insert(layers[i].name + ".bias");
  return out;
}

struct Worst {
  double err = 0;
  std::string name;
  void see(double e, const std::string& n) {
    if (e >= err) *this = {e, n};
  }
};

// Worst relative error over the model's parameters and over its running statistics against
// "<prefix><name>"; num_batches_tracked must be equal.
std::pair<Worst, Worst> compare_state(Model& m, const std::string& prefix) {
  const Fixture& f = fixture();
  Worst params, stats;
  for (auto& [name, v] : m.named_parameters()) params.see(relative_error(v->data(), f[prefix + name]), name);
  for (auto& [name, t] : m.named_buffers()) {
    if (name.ends_with("num_batches_tracked")) {
      EXPECT_EQ((*t)[0], f[prefix + name][0]) << prefix + name;
    } else {
      stats.see(relative_error(*t, f[prefix + name]), name);
    }
  }
  return {params, stats};
}

// The tolerance for cxr against PyTorch, given how far PyTorch's float32 run is from the exact (float64) one
// at that point: cxr is a float32 implementation too, with other summation orders, so it may be as far from
// the exact run in another direction (2x), and 2x more for rounding that is larger than PyTorch's. The
// 1e-6 is a few float32 roundings: the floor at step 1, where one rounding is all either run has made.
double tolerance(double torch_from_exact) { return 4 * torch_from_exact + 1e-6; }

struct OptRun {
  std::string tag;
  double lr0;  // as TrainConfig::lr, a float
  bool freeze_pre_bn_biases;
  std::function<std::unique_ptr<Optimizer>(NamedParameters, float)> make;
};

const std::vector<OptRun>& runs() {
  static const std::vector<OptRun> r{
      {"sgdn", 0.05f, false, [](NamedParameters ps, float lr) {
         return std::make_unique<SGD>(ps, lr, SGDOptions{.momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true});
       }},
      {"adam", 2e-3f, true, [](NamedParameters ps, float lr) {
         return std::make_unique<Adam>(ps, lr, AdamOptions{.weight_decay = 5e-4f});
       }},
      {"adamw", 2e-3f, true, [](NamedParameters ps, float lr) {
         return std::make_unique<AdamW>(ps, lr, AdamOptions{.weight_decay = 0.05f});
       }},
  };
  return r;
}

}  // namespace

TEST(Trajectory, ModelIsTheGeneratorsVgg) {
  auto m = make_model(config());
  std::set<std::string> ours, theirs;
  for (auto& [n, v] : m->named_parameters()) ours.insert(n);
  for (auto& [n, t] : m->named_buffers()) ours.insert(n);
  for (auto& [n, t] : fixture().all())
    if (n.starts_with("start.")) theirs.insert(n.substr(6));
  EXPECT_EQ(ours, theirs);
  int64_t count = 0;
  for (auto& [n, v] : m->named_parameters()) count += v->numel();
  EXPECT_EQ(count, 9327);  // the generator's docstring
  EXPECT_EQ(pre_bn_biases(*m).size(), 8u);
}

class TrajectoryRun : public ::testing::TestWithParam<int> {};

TEST_P(TrajectoryRun, FiftyStepsFollowPyTorch) {
  const OptRun& run = runs()[static_cast<size_t>(GetParam())];
  const Fixture& f = fixture();
  const std::string& tag = run.tag;
  auto model = model_from("start.");
  const std::set<std::string> frozen = run.freeze_pre_bn_biases ? pre_bn_biases(*model) : std::set<std::string>{};
  for (auto& [name, v] : model->named_parameters())
    if (frozen.count(name)) v->set_requires_grad(false);
  auto opt = run.make(model->named_parameters(), static_cast<float>(run.lr0));
  const CrossEntropyOptions ce{.class_weights = {}, .label_smoothing = 0.1f};
  const Tensor& torch_loss = f[tag + ".loss"];   // [50]
  const Tensor& exact_loss = f[tag + ".f64.loss"];
  const Tensor& exact_err = f[tag + ".f64.err"];  // [3], at steps 1, 10, 50

  // Per step: the loss's relative error against PyTorch; the worst so far is printed at the checkpoints.
  double loss_worst = 0, exact_loss_worst = 0, cxr_exact_worst = 0;
  int step = 0, checkpoint = 0;
  for (int epoch = 1; epoch <= kEpochs; ++epoch) {
    // The trainer's per-epoch cosine schedule (train/trainer.cpp calls the same function).
    const float lr = cosine_lr(static_cast<float>(run.lr0), epoch, kEpochs);
    ASSERT_EQ(lr, f[tag + ".lr"][step]) << "epoch " << epoch;
    opt->set_lr(lr);
    model->train();
    for (int b = 0; b < kBatches; ++b) {
      const std::vector<int64_t> rows = batch_rows(epoch, b);
      opt->zero_grad();
      Variable loss = cross_entropy((*model)(Variable(gather(rows))), labels_of(rows), ce);
      const double lv = loss.item();
      loss.backward();
      opt->step();
      // The loss: the same rule as the state below, against the worst float32-vs-exact loss error so far.
      exact_loss_worst =
          std::max(exact_loss_worst, std::abs(static_cast<double>(torch_loss[step]) - exact_loss[step]) / exact_loss[step]);
      cxr_exact_worst = std::max(cxr_exact_worst, std::abs(lv - exact_loss[step]) / exact_loss[step]);
      const double err = std::abs(lv - torch_loss[step]) / std::abs(torch_loss[step]);
      EXPECT_LE(err, tolerance(exact_loss_worst))
          << tag << " loss at step " << step + 1 << ": " << lv << " vs " << torch_loss[step];
      loss_worst = std::max(loss_worst, err);
      ++step;
      if (checkpoint < 3 && step == kCheckpoints[checkpoint]) {
        auto [params, stats] = compare_state(*model, tag + ".s" + std::to_string(step) + ".");
        const double tol = tolerance(exact_err[checkpoint]);
        EXPECT_LE(params.err, tol) << tag << " step " << step << ": " << params.name;
        EXPECT_LE(stats.err, tol) << tag << " step " << step << ": " << stats.name;
        std::printf("[ trajectory ] %-5s step %2d  cxr vs torch: parameters %.2e (%s), running stats %.2e (%s), "
                    "loss (worst so far) %.2e | torch f32 vs f64: state %.2e, loss %.2e | cxr vs f64: loss %.2e | "
                    "tolerance %.2e\n",
                    tag.c_str(), step, params.err, params.name.c_str(), stats.err, stats.name.c_str(), loss_worst,
                    exact_err[checkpoint], exact_loss_worst, cxr_exact_worst, tol);
        ++checkpoint;
      }
    }
  }
  EXPECT_EQ(step, kSteps);
  EXPECT_EQ(opt->step_count(), kSteps);
  // Frozen parameters never moved (neither framework's weight decay touches them).
  for (auto& [name, v] : model->named_parameters())
    if (frozen.count(name)) {
      EXPECT_EQ(relative_error(v->data(), f["start." + name]), 0.0) << name;
      EXPECT_EQ(relative_error(f[tag + ".s50." + name], f["start." + name]), 0.0) << name << " (torch)";
    }
  // The run learned something (else following PyTorch would be easy): the last epoch's loss is lower.
  EXPECT_LT(torch_loss[kSteps - 1], 0.7 * torch_loss[0]);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrajectoryRun, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& i) { return runs()[static_cast<size_t>(i.param)].tag; });

// Batch-norm's two modes: eval normalises with the running statistics (not the batch's), on torch's weights
// after the Nesterov run; train mode on the same batch gives other logits.
TEST(Trajectory, BatchNormEvalModeUsesRunningStatistics) {
  auto m = model_from("sgdn.s50.");
  const Tensor x = gather(batch_rows(1, 0));
  NoGradGuard ng;
  m->eval();
  const Tensor eval_logits = (*m)(Variable(x)).data();
  const double err = relative_error(eval_logits, fixture()["eval.logits"]);
  std::printf("[ trajectory ] eval-mode logits: %.2e\n", err);
  EXPECT_LE(err, 1e-5);
  m->train();
  EXPECT_GT(relative_error((*m)(Variable(x)).data(), eval_logits), 1e-2);  // the modes differ
}

namespace {

// The 40 images as PNG files (they are uint8 / 255, so PNG holds them exactly) and a Dataset of them in
// data order; the loader then yields the generator's unshuffled batches.
struct PngData {
  std::string dir;
  data::Dataset set;
  data::LoaderOptions opts;
  PngData() {
    dir = (fs::temp_directory_path() / ("cxr_trajectory_" + std::to_string(::getpid()))).string();
    fs::create_directories(dir);
    const Fixture& f = fixture();
    set.class_names = {"a", "b", "c"};
    for (int64_t i = 0; i < f["data.images"].size(0); ++i) {
      const std::string path = dir + "/" + std::to_string(i) + ".png";
      image::save_png(path, gather({i}).reshape({1, 32, 32}));  // [1, 32, 32]
      data::Sample s;
      s.path = path;
      s.label = static_cast<int>(f["data.labels"][i]);
      set.samples.push_back(s);
    }
    opts.image_size = 32;
    opts.channels = 1;
    opts.batch_size = kBatch;
    opts.shuffle = false;
    opts.drop_last = true;
    opts.workers = 1;
  }
  ~PngData() { fs::remove_all(dir); }
};

}  // namespace

// --precise-bn: recalibrate_batchnorm over the 5 batches = torch.optim.swa_utils.update_bn over them.
TEST(Trajectory, PreciseBatchNormIsUpdateBn) {
  PngData png;
  data::Loader loader(png.set, png.opts);
  {
    // The loader's batches are the fixture's images, bit for bit.
    loader.start_epoch(1);
    data::Batch b;
    int n = 0;
    for (; loader.next(b); ++n) {
      std::vector<int64_t> rows;
      for (int i = 0; i < kBatch; ++i) rows.push_back(n * kBatch + i);
      ASSERT_EQ(relative_error(b.images, gather(rows)), 0.0) << "batch " << n;
    }
    ASSERT_EQ(n, kBatches);
  }
  auto m = model_from("sgdn.s50.");
  RecalibrateResult r = recalibrate_batchnorm(*m, loader, 1);
  EXPECT_EQ(r.batches, kBatches);
  EXPECT_EQ(r.layers, 8);
  Worst stats;
  for (auto& [name, t] : m->named_buffers())
    if (!name.ends_with("num_batches_tracked")) stats.see(relative_error(*t, fixture()["precise." + name]), name);
  NoGradGuard ng;
  const double logits = relative_error((*m)(Variable(gather(batch_rows(1, 0)))).data(), fixture()["precise.eval_logits"]);
  std::printf("[ trajectory ] precise-bn: running stats %.2e (%s), eval logits after it %.2e\n", stats.err,
              stats.name.c_str(), logits);
  EXPECT_LE(stats.err, 1e-5) << stats.name;
  EXPECT_LE(logits, 1e-5);
  // update_bn restarts the count: it ends as the number of batches averaged (5), not 5 + 50 + 5.
  for (auto& [name, t] : m->named_buffers())
    if (name.ends_with("num_batches_tracked")) {
      EXPECT_EQ((*t)[0], fixture()["precise." + name][0]) << name;
    }
}

// SWA: WeightAverage of torch's weights after steps 1, 10, 50 = AveragedModel of them, and the average's
// recomputed statistics = update_bn's.
TEST(Trajectory, WeightAverageIsAveragedModel) {
  PngData png;
  data::Loader loader(png.set, png.opts);
  WeightAverage swa(model_from("start."));
  for (int k : kCheckpoints) swa.add(*model_from("sgdn.s" + std::to_string(k) + "."));
  EXPECT_EQ(swa.count(), 3);
  recalibrate_batchnorm(swa.model(), loader, 1);
  Worst params, stats;
  for (auto& [name, v] : swa.model().named_parameters()) params.see(relative_error(v->data(), fixture()["swa." + name]), name);
  for (auto& [name, t] : swa.model().named_buffers())
    if (!name.ends_with("num_batches_tracked")) stats.see(relative_error(*t, fixture()["swa." + name]), name);
  std::printf("[ trajectory ] swa: averaged parameters %.2e (%s), running stats %.2e (%s)\n", params.err,
              params.name.c_str(), stats.err, stats.name.c_str());
  // The mean of 3 floats: torch computes it in float32 in two updates, cxr in double; both round.
  EXPECT_LE(params.err, 1e-6) << params.name;
  EXPECT_LE(stats.err, 1e-5) << stats.name;
  for (auto& [name, t] : swa.model().named_buffers())
    if (name.ends_with("num_batches_tracked")) {
      EXPECT_EQ((*t)[0], fixture()["swa." + name][0]) << name;
    }
}

// Mixup's loss and its gradient, for a given pairing and lambda, against PyTorch.
TEST(Trajectory, MixupLossIsPyTorchs) {
  const Fixture& f = fixture();
  MixedBatch mix;
  for (int64_t i = 0; i < f["mixup.labels"].numel(); ++i) mix.labels_a.push_back(static_cast<int>(f["mixup.labels"][i]));
  for (int64_t i = 0; i < f["mixup.perm"].numel(); ++i) {
    mix.perm.push_back(static_cast<int>(f["mixup.perm"][i]));
    mix.labels_b.push_back(mix.labels_a[static_cast<size_t>(mix.perm.back())]);
  }
  mix.lambda = f["mixup.lambda"][0];
  Variable z(f["mixup.logits"].clone(), true);
  Variable loss = mixup_cross_entropy(z, mix, CrossEntropyOptions{.class_weights = {}, .label_smoothing = 0.1f});
  loss.backward();
  const double el = relative_error(loss.data(), f["mixup.loss"]), eg = relative_error(z.grad(), f["mixup.grad"]);
  std::printf("[ trajectory ] mixup: loss %.2e, gradient %.2e\n", el, eg);
  EXPECT_LE(el, 1e-6);
  EXPECT_LE(eg, 1e-5);
}

// Dropout's two modes, as PyTorch's: in training each element is zeroed or scaled by 1 / (1 - p), in eval
// it is left alone. The masks are each framework's own draws, so the test compares what a mask does:
// where both kept an element, the same value; the share dropped, within 5 sigma of p.
TEST(Trajectory, DropoutTrainAndEvalModesArePyTorchs) {
  const Fixture& f = fixture();
  const Tensor& x = f["dropout.x"];  // [40, 25]
  ModelConfig c = config();
  c.head = "gap256";  // classifier: Linear ReLU Dropout Linear
  c.dropout = 0.3f;
  auto m = make_model(c);
  auto* drop = dynamic_cast<Dropout*>(&m->classifier->at(2));
  ASSERT_TRUE(drop);
  NoGradGuard ng;
  m->train();  // the model's mode reaches its dropout layer
  const Tensor y = (*drop)(Variable(x)).data();
  const Tensor& want = f["dropout.train"];
  int64_t dropped = 0, both_kept = 0;
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y[i] == 0.0f) {
      ++dropped;
      continue;
    }
    if (want[i] == 0.0f) continue;
    ++both_kept;
    worst = std::max(worst, std::abs(static_cast<double>(y[i]) - want[i]) / std::abs(want[i]));
  }
  const double n = static_cast<double>(x.numel()), share = dropped / n;
  std::printf("[ trajectory ] dropout: kept values %.2e (%lld kept by both), dropped %.3f (p = 0.3)\n", worst,
              static_cast<long long>(both_kept), share);
  EXPECT_LE(worst, 2.4e-7);  // x / (1 - p) against x * (1 / (1 - p)): at most two roundings apart
  EXPECT_GT(both_kept, 300);
  EXPECT_NEAR(share, 0.3, 5 * std::sqrt(0.3 * 0.7 / n));
  m->eval();
  EXPECT_EQ(relative_error((*drop)(Variable(x)).data(), f["dropout.eval"]), 0.0);
}
