// train/: a tiny synthetic task is learnt, resuming is exact, the best checkpoint is the best epoch's,
// a NaN loss stops cleanly without touching the last good checkpoint, and model files round-trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/threading.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "error_of.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "layers/modules.h"
#include "io/json_file.h"
#include "train/evaluate.h"
#include "train/run_files.h"
#include "train/recalibrate.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace cxr;

namespace {

// One small synthetic dataset shared by the tests (written once).
const std::string& synth_dir() {
  static std::string dir = [] {
    fs::path d = fs::temp_directory_path() / ("cxr_test_train_" + std::to_string(::getpid()));
    fs::remove_all(d);
    data::SynthOptions o;
    o.size = 64;
    o.seed = 11;
    o.difficulty = 0.0f;
    o.lesion_contrast = 3.0f;
    o.train = 60;
    o.val = 15;
    o.test = 15;
    data::write_dataset(o, d.string());
    return d.string();
  }();
  return dir;
}

TrainConfig small_config(const std::string& out) {
  TrainConfig c;
  c.data = synth_dir();
  c.out = out;
  c.arch = "vgg11";
  c.batch_norm = true;
  c.width = 0.125f;
  c.size = 64;
  c.channels = 1;
  c.head = "gap256";
  c.dropout = 0.2f;
  c.epochs = 3;
  c.batch = 16;
  c.lr = 2e-3f;
  c.schedule = LrSchedule::plateau;
  c.patience = 0;
  c.augment = "xray";
  c.workers = 2;
  c.seed = 5;
  return c;
}

std::string fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d.string();
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// VGG-11-BN at width 1/8 on 32 px input, 3 classes.
ModelConfig tiny_vgg_config(int channels, uint64_t seed) {
  ModelConfig mc;
  mc.arch = "vgg11";
  mc.batch_norm = true;
  mc.width = 0.125f;
  mc.input_size = 32;
  mc.in_channels = channels;
  mc.num_classes = 3;
  mc.seed = seed;
  return mc;
}

std::FILE* quiet() {
  static std::FILE* f = std::fopen("/dev/null", "w");
  return f;
}

// What a run writes to its log.
std::string log_of(const std::function<void(std::FILE*)>& run) {
  std::FILE* log = std::tmpfile();
  EXPECT_NE(log, nullptr);
  run(log);
  std::rewind(log);
  std::string text;
  for (int ch; (ch = std::fgetc(log)) != EOF;) text += static_cast<char>(ch);
  std::fclose(log);
  return text;
}

// A copy of the shared synthetic set's manifest in a fresh folder, with absolute image paths and each
// image row (file, label, split, source, ...) passed through `edit`; returns the new manifest's path.
std::string edited_manifest(const std::string& name, const std::function<void(std::vector<std::string>&)>& edit) {
  const std::string dir = fresh_dir(name);
  fs::create_directories(dir);
  const auto rows = data::parse_csv(file_bytes(synth_dir() + "/manifest.csv"), "manifest");
  std::ofstream out(dir + "/manifest.csv");
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::string> f = rows[r];
    if (r > 0) {
      f[0] = synth_dir() + "/" + f[0];
      edit(f);
    }
    for (size_t i = 0; i < f.size(); ++i) out << (i ? "," : "") << data::csv_field(f[i]);
    out << "\n";
  }
  return dir + "/manifest.csv";
}

// Both checkpoints hold the same tensors, bit for bit.
void expect_same_weights(const std::string& a_path, const std::string& b_path) {
  auto a = io::load_safetensors(a_path);
  auto b = io::load_safetensors(b_path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor &x = a.tensors[i].value, &y = b.tensors[i].value;
    ASSERT_EQ(x.numel(), y.numel()) << a.tensors[i].name;
    for (int64_t j = 0; j < x.numel(); ++j)
      ASSERT_EQ(x[j], y[j]) << a.tensors[i].name << "[" << j << "] differs after resume";
  }
}

// The plateau counter after each epoch of a history, as the trainer keeps it: epochs since the best
// val_loss (a strictly lower one is better). [k] is the count after epoch k + 1.
std::vector<int> bad_epochs_of(const std::vector<EpochRecord>& history) {
  std::vector<int> bad;
  double best = INFINITY;
  for (const EpochRecord& e : history) {
    if (e.val_loss < best) best = e.val_loss;
    bad.push_back(e.val_loss == best ? 0 : bad.empty() ? 1 : bad.back() + 1);
  }
  return bad;
}

}  // namespace

TEST(Train, TinySyntheticTaskIsLearnt) {
  TrainConfig c = small_config(fresh_dir("cxr_train_learn"));
  c.epochs = 10;
  c.augment = "none";
  c.schedule = LrSchedule::none;
  // Validation with the batch-norm statistics recomputed: with the running averages, the validation accuracy
  // of this small batch-norm net at lr 2e-3 swings by 0.3 from epoch to epoch (seed 5: best 0.71 in 10
  // epochs on one machine, 0.93 by epoch 14), and whether a fixed epoch clears a bar depended on the
  // machine's float rounding. With it, seeds 5, 6, 7 reach 0.91, 0.84, 0.93.
  c.precise_bn = true;
  TrainResult r = train(c, quiet());
  ASSERT_EQ(r.history.size(), 10u);
  // The peak memory reported holds at least the weights, their gradients and Adam's two moments.
  io::LoadedModel trained = io::load_model_file(r.last_checkpoint);
  const size_t weight_bytes = static_cast<size_t>(trained.model->parameter_count()) * sizeof(float);
  EXPECT_GE(r.peak_tensor_bytes, 4 * weight_bytes);
  EXPECT_LT(r.peak_tensor_bytes, size_t{1} << 30);
  double best_acc = 0;
  for (auto& e : r.history) best_acc = std::max(best_acc, e.val_accuracy);
  // Chance is 1/3; strong lesions should be learnt well within 10 short epochs.
  EXPECT_GE(best_acc, 0.8) << "validation accuracy never reached 0.8";
  EXPECT_LT(r.history.back().loss, r.history.front().loss);
  // The saved best checkpoint reproduces its recorded val_loss, and is the epoch with the lowest one.
  io::LoadedModel lm = io::load_model_file(r.best_checkpoint);
  data::Dataset val = data::select_split(data::open_dataset(c.data), "val");
  DatasetPredictions p = predict_dataset(*lm.model, val, inference_loader_options(lm.meta.model, lm.norm, 16));
  int argmin = 0;
  for (size_t i = 0; i < r.history.size(); ++i)
    if (r.history[i].val_loss < r.history[argmin].val_loss) argmin = static_cast<int>(i);
  EXPECT_EQ(r.best_epoch, argmin + 1);
  EXPECT_EQ(lm.meta.epoch, r.best_epoch);
  EXPECT_NEAR(p.loss, r.history[argmin].val_loss, 1e-5);
  // history.csv holds the same numbers.
  auto h = read_history_csv(c.out + "/history.csv");
  ASSERT_EQ(h.size(), r.history.size());
  EXPECT_NEAR(h[3].val_accuracy, r.history[3].val_accuracy, 1e-7);
}

TEST(Train, TinySyntheticTaskIsLearntWithMixup) {
  // Mixup blends every batch (Beta(0.2, 0.2) weights), yet the task is still learnt, and the run differs
  // from the same run without it (the option is not ignored).
  TrainConfig c = small_config(fresh_dir("cxr_train_mixup"));
  c.epochs = 12;
  c.augment = "none";
  c.schedule = LrSchedule::none;
  c.mixup = 0.2f;
  TrainResult r = train(c, quiet());
  ASSERT_EQ(r.history.size(), 12u);
  double best_acc = 0;
  for (auto& e : r.history) best_acc = std::max(best_acc, e.val_accuracy);
  EXPECT_GE(best_acc, 0.8) << "validation accuracy never reached 0.8 with mixup";
  TrainConfig plain = c;
  plain.out = fresh_dir("cxr_train_nomixup");
  plain.mixup = 0.0f;
  plain.epochs = 1;
  TrainResult p = train(plain, quiet());
  EXPECT_NE(p.history[0].loss, r.history[0].loss);
  TrainConfig bad = c;
  bad.out = fresh_dir("cxr_train_badmixup");
  bad.mixup = -1.0f;
  EXPECT_THROW(train(bad, quiet()), Error);
}

TEST(Train, ResumeGivesTheSameWeights) {
  struct Case {
    bool precise_bn;
    float mixup;
  };
  for (Case k : {Case{false, 0.0f}, Case{true, 0.0f}, Case{false, 0.4f}}) {
    SCOPED_TRACE(std::string(k.precise_bn ? "with" : "without") + " --precise-bn, --mixup " + std::to_string(k.mixup));
    const bool precise_bn = k.precise_bn;
    // Same seed and thread count (whatever CXR_THREADS says): bit-identical weights.
    TrainConfig full = small_config(fresh_dir("cxr_train_full"));
    full.precise_bn = precise_bn;
    full.mixup = k.mixup;
    train(full, quiet());
    TrainConfig part = small_config(fresh_dir("cxr_train_part"));
    part.precise_bn = precise_bn;
    part.mixup = k.mixup;
    part.epochs = 2;  // "interrupted" after epoch 2
    train(part, quiet());
    TrainResult r = resume(part.out, 3, quiet());
    EXPECT_EQ(r.history.size(), 3u);
    expect_same_weights(full.out + "/last.safetensors", part.out + "/last.safetensors");
    auto ha = read_history_csv(full.out + "/history.csv"), hb = read_history_csv(part.out + "/history.csv");
    EXPECT_EQ(ha.back().val_loss, hb.back().val_loss);
    // The checkpoint holds the batch-norm statistics validation used (recalibrated ones with --precise-bn).
    io::LoadedModel lm = io::load_model_file(full.out + "/last.safetensors");
    data::Dataset val = data::select_split(data::open_dataset(full.data), "val");
    DatasetPredictions p = predict_dataset(*lm.model, val, inference_loader_options(lm.meta.model, lm.norm, 16));
    EXPECT_NEAR(p.loss, ha.back().val_loss, 1e-6);
    // A second train() into a finished run's folder refuses instead of overwriting it.
    EXPECT_THROW(train(part, quiet()), Error);
  }
}

// A run interrupted while the plateau counter counts: the resumed run must cut the learning rate, and stop
// early, at the epochs the uninterrupted run does, with the same weights. (ResumeGivesTheSameWeights stops
// where nothing is pending: a resume that restarted the counter would pass it.) Each case asserts that the
// interruption falls where its event is pending.
TEST(Train, ResumeKeepsAPendingPlateauDrop) {
  TrainConfig full = small_config(fresh_dir("cxr_train_plateau_full"));
  full.epochs = 8;
  full.lr = 2e-2f;  // large steps: val_loss soon stops improving
  full.plateau_patience = 2;
  const TrainResult whole = train(full, quiet());
  ASSERT_EQ(whole.history.size(), 8u);
  // The first epoch k after which a drop is pending (an odd count) and happens after k + 1, with an epoch
  // left to train at the lower rate.
  const std::vector<int> bad = bad_epochs_of(whole.history);
  int k = 0;
  for (int e = 1; e + 2 <= full.epochs && !k; ++e)
    if (bad[e - 1] % 2 == 1 && bad[e] == bad[e - 1] + 1) k = e;
  ASSERT_GT(k, 0) << "no epoch of the run has a plateau drop pending: a larger --lr or more epochs";
  ASSERT_LT(whole.history[k + 1].lr, whole.history[k].lr) << "the uninterrupted run cut lr after epoch " << k + 1;

  TrainConfig part = full;
  part.out = fresh_dir("cxr_train_plateau_part");
  part.epochs = k;
  train(part, quiet());
  EXPECT_EQ(run_state_from_json(io::read_json_file(part.out + "/state.json"), "state.json").bad_epochs, bad[k - 1]);
  EXPECT_EQ(resume(part.out, full.epochs, quiet()).history.size(), 8u);
  // Both histories as written (the resumed run's first epochs come back from its history.csv).
  const auto ha = read_history_csv(full.out + "/history.csv"), hb = read_history_csv(part.out + "/history.csv");
  ASSERT_EQ(ha.size(), hb.size());
  for (size_t e = 0; e < ha.size(); ++e) EXPECT_EQ(hb[e].lr, ha[e].lr) << "epoch " << e + 1;
  expect_same_weights(full.out + "/last.safetensors", part.out + "/last.safetensors");
}

TEST(Train, ResumeKeepsAPendingEarlyStop) {
  TrainConfig full = small_config(fresh_dir("cxr_train_stop_full"));
  full.epochs = 12;
  full.lr = 2e-2f;
  full.schedule = LrSchedule::none;  // only the early-stopping counter
  full.patience = 2;
  const TrainResult whole = train(full, quiet());
  ASSERT_TRUE(whole.early_stopped) << "12 epochs without two non-improving ones in a row";
  // Interrupted one epoch before the stop: one epoch without improvement counted, one to come.
  const int k = static_cast<int>(whole.history.size()) - 1;
  ASSERT_GE(k, 2);

  TrainConfig part = full;
  part.out = fresh_dir("cxr_train_stop_part");
  part.epochs = k;
  const TrainResult first = train(part, quiet());
  ASSERT_FALSE(first.early_stopped);
  EXPECT_EQ(run_state_from_json(io::read_json_file(part.out + "/state.json"), "state.json").bad_epochs, 1);
  const TrainResult resumed = resume(part.out, full.epochs, quiet());
  EXPECT_TRUE(resumed.early_stopped);
  EXPECT_EQ(resumed.history.size(), whole.history.size());
  EXPECT_EQ(resumed.best_epoch, whole.best_epoch);
  expect_same_weights(full.out + "/last.safetensors", part.out + "/last.safetensors");
}

TEST(Train, SwaIsTheMeanOfTheEpochsWeightsAndResumesExactly) {
  auto params = [](const std::string& path) {
    io::LoadedModel lm = io::load_model_file(path);
    std::vector<std::pair<std::string, Tensor>> out;
    for (auto& [name, v] : lm.model->named_parameters()) out.emplace_back(name, v->data().clone());
    return out;
  };
  TrainConfig full = small_config(fresh_dir("cxr_train_swa_full"));
  full.swa_start = 2;
  TrainResult rf = train(full, quiet());
  ASSERT_EQ(rf.swa_checkpoint, full.out + "/swa.safetensors");
  // The same run in steps: the weights after epoch 2 and after epoch 3.
  TrainConfig part = small_config(fresh_dir("cxr_train_swa_part"));
  part.swa_start = 2;
  part.epochs = 2;
  train(part, quiet());
  auto w2 = params(part.out + "/last.safetensors");
  auto s2 = params(part.out + "/swa.safetensors");
  TrainResult rp = resume(part.out, 3, quiet());
  auto w3 = params(part.out + "/last.safetensors");
  auto sf = params(full.out + "/swa.safetensors"), sp = params(part.out + "/swa.safetensors");
  ASSERT_EQ(sf.size(), w2.size());
  for (size_t i = 0; i < sf.size(); ++i) {
    const Tensor &a = sf[i].second, &b = sp[i].second, &x = w2[i].second, &y = w3[i].second;
    for (int64_t j = 0; j < a.numel(); ++j) {
      ASSERT_EQ(a[j], b[j]) << sf[i].first << "[" << j << "]: the resumed average differs";
      ASSERT_EQ(s2[i].second[j], x[j]) << "the average of one epoch is that epoch's weights";
      const double mean = 0.5 * (static_cast<double>(x[j]) + y[j]);
      ASSERT_NEAR(a[j], mean, 1e-6 * std::max(1.0, std::abs(mean))) << sf[i].first << "[" << j << "]";
    }
  }
  // The averaged weights differ from both epochs' (else the test above proves little).
  EXPECT_NE(sf[0].second[0], w2[0].second[0]);
  EXPECT_NE(sf[0].second[0], w3[0].second[0]);
  // The saved file holds the batch-norm statistics its reported val_loss was measured with.
  io::LoadedModel lm = io::load_model_file(rf.swa_checkpoint);
  data::Dataset val = data::select_split(data::open_dataset(full.data), "val");
  DatasetPredictions p = predict_dataset(*lm.model, val, inference_loader_options(lm.meta.model, lm.norm, 16));
  EXPECT_NEAR(p.loss, rf.swa_val_loss, 1e-6);
  EXPECT_EQ(rf.swa_val_loss, rp.swa_val_loss);
  EXPECT_EQ(lm.meta.extra["swa"]["epochs"], 2);
}

TEST(Train, SwaResumesAfterACrashBetweenItsFileAndTheState) {
  auto same_params = [](const std::string& a, const std::string& b) {
    io::LoadedModel x = io::load_model_file(a), y = io::load_model_file(b);
    auto px = x.model->named_parameters(), py = y.model->named_parameters();
    for (size_t i = 0; i < px.size(); ++i)
      for (int64_t j = 0; j < px[i].second->numel(); ++j)
        if (px[i].second->data()[j] != py[i].second->data()[j]) return false;
    return true;
  };
  TrainConfig full = small_config(fresh_dir("cxr_train_swac_full"));
  full.swa_start = 2;
  full.max_steps = 2;
  train(full, quiet());
  TrainConfig part = full;
  part.out = fresh_dir("cxr_train_swac_part");
  part.epochs = 2;
  train(part, quiet());
  EXPECT_FALSE(fs::exists(part.out + "/swa.prev.safetensors")) << "kept after state.json moved on";
  const std::string crashed = fresh_dir("cxr_train_swac_crash"), renamed = fresh_dir("cxr_train_swac_renamed");
  fs::copy(part.out, crashed, fs::copy_options::recursive);
  fs::copy(part.out, renamed, fs::copy_options::recursive);
  resume(part.out, 3, quiet());  // epoch 3's average, as a run that crashed after writing it would leave
  // Crashed after epoch 3's swa.safetensors was written, before state.json: the state says epoch 2.
  fs::rename(crashed + "/swa.safetensors", crashed + "/swa.prev.safetensors");
  fs::copy_file(part.out + "/swa.safetensors", crashed + "/swa.safetensors");
  resume(crashed, 3, quiet());
  EXPECT_TRUE(same_params(crashed + "/swa.safetensors", full.out + "/swa.safetensors"));
  EXPECT_FALSE(fs::exists(crashed + "/swa.prev.safetensors"));
  // Crashed between the rename and the write: only swa.prev.safetensors is there.
  fs::rename(renamed + "/swa.safetensors", renamed + "/swa.prev.safetensors");
  resume(renamed, 3, quiet());
  EXPECT_TRUE(same_params(renamed + "/swa.safetensors", full.out + "/swa.safetensors"));
  // No average of the state's epoch at all: refused, naming what is there.
  const std::string lost = fresh_dir("cxr_train_swac_lost");
  fs::copy(part.out, lost, fs::copy_options::recursive);  // finished: state at epoch 3
  fs::remove(lost + "/swa.safetensors");
  try {
    resume(lost, 4, quiet());
    ADD_FAILURE() << "resumed without an average of epoch 3";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("swa.safetensors nor " + lost + "/swa.prev.safetensors holds the weight "
                                         "average up to epoch 3 (both are missing)"), std::string::npos) << e.what();
  }
}

TEST(Train, SwaLearningRateAndBadSwaOptions) {
  TrainConfig c = small_config(fresh_dir("cxr_train_swa_lr"));
  c.schedule = LrSchedule::cosine;
  c.swa_start = 3;
  c.swa_lr = 1e-4f;
  c.max_steps = 1;
  TrainResult r = train(c, quiet());
  ASSERT_EQ(r.history.size(), 3u);
  EXPECT_FLOAT_EQ(r.history[0].lr, c.lr);  // the cosine schedule until epoch 3
  EXPECT_FLOAT_EQ(r.history[1].lr, 0.75f * c.lr);  // (1 + cos(pi / 3)) / 2
  EXPECT_FLOAT_EQ(r.history[2].lr, 1e-4f);
  TrainConfig bad = small_config(fresh_dir("cxr_train_swa_bad"));
  bad.swa_start = 4;  // after the last epoch
  EXPECT_THROW(train(bad, quiet()), Error);
  bad.swa_start = 0;
  bad.swa_lr = 1e-3f;  // without --swa-start
  EXPECT_THROW(train(bad, quiet()), Error);
}

TEST(Recalibrate, BatchNormBuffersBecomeThePlainMeanOfBatchStatistics) {
  const ModelConfig mc = tiny_vgg_config(1, 4);
  auto model = make_model(mc);
  data::Dataset train_set = data::select_split(data::open_dataset(synth_dir()), "train");
  data::LoaderOptions o = inference_loader_options(mc, image::Normalisation{}, 16);
  o.shuffle = true;
  o.drop_last = true;
  o.seed = 7;
  o.workers = 1;
  Module* conv1 = model->layers().at(0).module;  // features.0
  auto* bn1 = dynamic_cast<BatchNorm2d*>(model->layers().at(1).module);
  ASSERT_TRUE(bn1);
  // What the first batch-norm must hold: each batch's per-channel mean and unbiased variance of its
  // input (the first convolution's output, seen through a hook), averaged over the batches of epoch 2.
  const int64_t C = bn1->channels;
  std::vector<double> want_mean(C, 0.0), want_var(C, 0.0);
  int64_t batches = 0;
  {
    const int id = conv1->add_forward_hook([&](Module&, Variable& y) {
      const int64_t N = y.size(0), HW = y.size(2) * y.size(3), M = N * HW;
      for (int64_t c = 0; c < C; ++c) {
        double s = 0, ss = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < HW; ++j) s += y.data()[(n * C + c) * HW + j];
        const double mu = s / M;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < HW; ++j) ss += std::pow(y.data()[(n * C + c) * HW + j] - mu, 2);
        want_mean[c] += mu;
        want_var[c] += ss / (M - 1);
      }
      ++batches;
    });
    model->eval();  // the convolution does not care; batch-norm's buffers must not move here
    NoGradGuard ng;
    data::Loader ref(train_set, o);
    ref.start_epoch(2);
    data::Batch b;
    while (ref.next(b)) (*model)(Variable(b.images));
    conv1->remove_forward_hook(id);
  }
  ASSERT_EQ(batches, 180 / 16);
  data::Loader loader(train_set, o);
  model->train();
  bn1->state.running_mean[0] = NAN;  // as a diverged run may leave it: must not survive
  RecalibrateResult r = recalibrate_batchnorm(*model, loader, 2);
  EXPECT_EQ(r.batches, batches);
  EXPECT_EQ(r.images, batches * 16);
  EXPECT_EQ(r.layers, 8);  // VGG-11 has eight convolutions, each followed by batch-norm
  EXPECT_FALSE(model->is_training());
  EXPECT_EQ(bn1->momentum, 0.1f);  // put back
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(bn1->state.running_mean[c], want_mean[c] / batches, 1e-4 * (1 + std::abs(want_mean[c] / batches)));
    EXPECT_NEAR(bn1->state.running_var[c], want_var[c] / batches, 1e-4 * (want_var[c] / batches)) << c;
  }
  // At most max_batches batches, or until the callback says stop.
  EXPECT_EQ(recalibrate_batchnorm(*model, loader, 3, 2).batches, 2);
  EXPECT_EQ(recalibrate_batchnorm(*model, loader, 3, 0, [](int64_t done, int64_t) { return done < 3; }).batches, 3);
}

TEST(Train, PreciseBnWithoutBatchNormIsRefused) {
  TrainConfig c = small_config(fresh_dir("cxr_train_precise_nobn"));
  c.batch_norm = false;
  c.precise_bn = true;
  const std::string m = error_of([&] { train(c, quiet()); });
  EXPECT_NE(m.find("add --bn"), std::string::npos) << m;
}

TEST(Train, EarlyStoppingKeepsTheBestEpoch) {
  TrainConfig c = small_config(fresh_dir("cxr_train_early"));
  c.epochs = 12;
  c.patience = 1;
  c.lr = 2e-2f;  // large steps: val_loss soon stops improving
  TrainResult r = train(c, quiet());
  ASSERT_TRUE(r.early_stopped) << "12 epochs without a single non-improving epoch";
  EXPECT_LT(r.history.size(), 12u);
  EXPECT_EQ(r.best_epoch, static_cast<int>(r.history.size()) - 1);  // patience 1: stopped one epoch after it
  EXPECT_EQ(io::read_checkpoint_meta(r.best_checkpoint).epoch, r.best_epoch);
}

TEST(Train, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  TrainConfig c = small_config(fresh_dir("cxr_train_nan"));
  c.epochs = 1;
  train(c, quiet());
  const std::string last = c.out + "/last.safetensors", hist = c.out + "/history.csv";
  // Poison the weights the resumed run starts from (as a diverged step would) ...
  auto st = io::load_safetensors(last);
  for (auto& t : st.tensors)
    if (t.name == "features.0.weight") t.value[0] = NAN;
  io::save_safetensors(last, st.tensors, st.metadata);
  const std::string before = file_bytes(last), hist_before = file_bytes(hist);
  // ... then the first step's loss is NaN: a clear error, and nothing is overwritten.
  const std::string m = error_of([&] { resume(c.out, 2, quiet()); });
  EXPECT_NE(m.find("loss became nan"), std::string::npos) << m;
  EXPECT_NE(m.find("epoch 2 step 1"), std::string::npos) << m;
  EXPECT_EQ(file_bytes(last), before);
  EXPECT_EQ(file_bytes(hist), hist_before);
}

// A leave-source-out run: the excluded source's images are in neither training nor validation, and the
// exclusion is part of the saved configuration, so a resumed run keeps it.
TEST(Train, ExcludedSourcesAreLeftOutOfTrainingAndValidationAndStayOutOnResume) {
  // The shared synthetic set under two sources: the COVID19 images of every split become "clinic".
  int64_t train_kept = 0, val_kept = 0;
  const std::string manifest = edited_manifest("cxr_train_sources", [&](std::vector<std::string>& f) {
    if (f[1] == "COVID19") f[3] = "clinic";
    else if (f[2] == "train") ++train_kept;
    else if (f[2] == "val") ++val_kept;
  });
  TrainConfig c = small_config(fresh_dir("cxr_train_sources_run"));
  c.data = manifest;
  c.exclude_sources = {"clinic"};
  c.epochs = 1;
  c.max_steps = 1;
  for (const std::string& text : {log_of([&](std::FILE* f) { train(c, f); }),
                                  log_of([&](std::FILE* f) { resume(c.out, 2, f); })}) {
    EXPECT_NE(text.find(cxr::str("[without clinic] [train]: ", train_kept, " images")), std::string::npos) << text;
    EXPECT_NE(text.find(cxr::str("[without clinic] [val]: ", val_kept, " images")), std::string::npos) << text;
    EXPECT_NE(text.find("COVID19 0 (0.0%)"), std::string::npos) << text;
  }
  const nlohmann::json saved = nlohmann::json::parse(file_bytes(c.out + "/config.json"));
  EXPECT_EQ(saved.at("exclude_sources"), nlohmann::json::array({"clinic"}));
  // A typo is an error that names the sources there are, before anything is trained.
  c.exclude_sources = {"clinc"};
  c.out = fresh_dir("cxr_train_sources_typo");
  const std::string typo = error_of([&] { train(c, quiet()); });
  EXPECT_NE(typo.find("'clinc' (sources present: clinic, synth)"), std::string::npos) << typo;
}

// --skip-bad: an unreadable training image and an unreadable validation image are left out, and the run
// ends by saying how many of each; without it, the run stops on the first, naming the file.
TEST(Train, SkipBadCountsTheUnreadableTrainingAndValidationImages) {
  const std::string bad = fresh_dir("cxr_train_bad_image") + ".png";
  { std::ofstream(bad) << "plain text, not a PNG"; }
  bool train_done = false, val_done = false;
  int64_t n_val = 0;
  const std::string manifest = edited_manifest("cxr_train_bad", [&](std::vector<std::string>& f) {
    n_val += f[2] == "val";
    bool& done = f[2] == "train" ? train_done : val_done;
    if ((f[2] == "train" || f[2] == "val") && !done) f[0] = bad, done = true;
  });
  TrainConfig c = small_config(fresh_dir("cxr_train_bad_run"));
  c.data = manifest;
  c.epochs = 1;
  c.skip_bad = true;
  const std::string text = log_of([&](std::FILE* f) { train(c, f); });
  EXPECT_NE(text.find(cxr::str("Skipped unreadable images (--skip-bad): 1 training file(s) met in this run, 1 of ",
                               n_val, " validation.")),
            std::string::npos)
      << text;
  c.skip_bad = false;
  c.out = fresh_dir("cxr_train_bad_run_strict");
  const std::string strict = error_of([&] { train(c, quiet()); });
  EXPECT_NE(strict.find(bad), std::string::npos) << strict;
}

TEST(Train, ModelFilesRoundTripWithAndWithoutMetadata) {
  const ModelConfig mc = tiny_vgg_config(3, 9);
  auto m = make_model(mc);
  m->eval();
  io::CheckpointMeta meta;
  meta.model = mc;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  std::string dir = fresh_dir("cxr_model_file");
  fs::create_directories(dir);
  io::save_checkpoint(dir + "/m.safetensors", *m, meta);
  Rng rng(3);
  Tensor x = Tensor::empty({2, 3, 32, 32});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform();
  NoGradGuard ng;
  Tensor want = (*m)(Variable(x)).data();
  io::LoadedModel lm = io::load_model_file(dir + "/m.safetensors");
  EXPECT_EQ(lm.meta.classes[2], "PNEUMONIA");
  Tensor got = (*lm.model)(Variable(x)).data();
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(want[i], got[i]);
  // The same tensors without cxr metadata (as exported from torchvision): needs --arch, then identical.
  auto st = io::load_safetensors(dir + "/m.safetensors");
  io::save_safetensors(dir + "/bare.safetensors", st.tensors);
  EXPECT_THROW(io::load_model_file(dir + "/bare.safetensors"), Error);
  // Names do not match, and the message says why first: another architecture.
  const std::string other = error_of([&] { io::load_model_file(dir + "/bare.safetensors", "vgg13_bn"); });
  EXPECT_NE(other.find("the file has 8 convolutions, the model 10"), std::string::npos) << other;
  io::LoadedModel bare = io::load_model_file(dir + "/bare.safetensors", "vgg11_bn");
  bare.model->eval();
  // Input size of a bare file is the default (224); a torchvision head's adaptive pool accepts 32 too.
  Tensor got2 = (*bare.model)(Variable(x)).data();
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(want[i], got2[i]);
  // Its outputs have no names but those the caller gives (--classes), as many as the model has.
  EXPECT_EQ(bare.meta.classes, (std::vector<std::string>{"class0", "class1", "class2"}));
  const std::vector<std::string> named = {"COVID19", "NORMAL", "PNEUMONIA"};
  EXPECT_EQ(io::load_model_file(dir + "/bare.safetensors", "vgg11_bn", "", named).meta.classes, named);
  EXPECT_THROW(io::load_model_file(dir + "/bare.safetensors", "vgg11_bn", "", {"A", "B"}), Error);
  // A cxr checkpoint names its own: the same names are accepted, others refused.
  EXPECT_EQ(io::load_model_file(dir + "/m.safetensors", "", "", named).meta.classes, named);
  EXPECT_THROW(io::load_model_file(dir + "/m.safetensors", "", "", {"A", "B", "C"}), Error);
}

TEST(Evaluate, AveragePredictionsIsTheMeanOverSamplesEveryModelRead) {
  DatasetPredictions a, b;
  a.probs = {{0.6f, 0.4f}, {0.2f, 0.8f}, {0.9f, 0.1f}};
  a.targets = {0, 1, 1};
  a.indices = {0, 1, 2};
  b.probs = {{0.2f, 0.8f}, {0.3f, 0.7f}};  // b could not read sample 1
  b.targets = {0, 1};
  b.indices = {0, 2};
  DatasetPredictions e = average_predictions({a, b});
  ASSERT_EQ(e.indices, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(e.targets, (std::vector<int>{0, 1}));
  EXPECT_NEAR(e.probs[0][0], 0.4, 1e-7);
  EXPECT_NEAR(e.probs[0][1], 0.6, 1e-7);
  EXPECT_NEAR(e.probs[1][0], 0.6, 1e-7);
  EXPECT_NEAR(e.probs[1][1], 0.4, 1e-7);
  // Mean cross-entropy of the averaged probabilities: (-ln 0.4 - ln 0.4) / 2.
  EXPECT_NEAR(e.loss, -std::log(0.4), 1e-6);
  // One model alone is itself.
  DatasetPredictions one = average_predictions({a});
  EXPECT_EQ(one.probs, a.probs);
  // Not the same dataset (a target differs), or not the same classes: refused.
  DatasetPredictions c = b;
  c.targets[1] = 0;
  EXPECT_THROW(average_predictions({a, c}), Error);
  DatasetPredictions d = b;
  d.probs = {{0.2f, 0.7f, 0.1f}, {0.3f, 0.6f, 0.1f}};
  EXPECT_THROW(average_predictions({a, d}), Error);
  EXPECT_THROW(average_predictions({}), Error);
}

TEST(Evaluate, TestTimeAugmentationIsThePlainViewAveragedWithFixedAugmentedOnes) {
  const ModelConfig mc = tiny_vgg_config(1, 8);
  auto model = make_model(mc);
  data::Dataset val = data::select_split(data::open_dataset(synth_dir()), "val");
  data::LoaderOptions o = inference_loader_options(mc, image::Normalisation{}, 8);
  o.workers = 1;
  const image::AugmentParams xray = image::AugmentParams::xray();
  const DatasetPredictions plain = predict_dataset(*model, val, o);
  // One view is the plain prediction, even when the options ask for augmentation.
  data::LoaderOptions augmented = o;
  augmented.augment = xray;
  EXPECT_EQ(predict_dataset_tta(*model, val, augmented, xray, 1).probs, plain.probs);
  // View v is the loader's augmentation of epoch v.
  const DatasetPredictions v1 = predict_dataset(*model, val, augmented, "", 1);
  const DatasetPredictions v2 = predict_dataset(*model, val, augmented, "", 2);
  const DatasetPredictions tta = predict_dataset_tta(*model, val, o, xray, 3);
  ASSERT_EQ(tta.probs.size(), plain.probs.size());
  double view_change = 0;
  for (size_t i = 0; i < plain.probs.size(); ++i)
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(tta.probs[i][k], (plain.probs[i][k] + v1.probs[i][k] + v2.probs[i][k]) / 3, 1e-6);
      view_change = std::max(view_change, double(std::abs(v1.probs[i][k] - plain.probs[i][k])));
      view_change = std::max(view_change, double(std::abs(v2.probs[i][k] - v1.probs[i][k])));
    }
  // An untrained model's probabilities stay near 1/3, so views move them little, but far above rounding.
  EXPECT_GT(view_change, 1e-5) << "the augmented views must differ from the plain one and from each other";
  // The same seed shows the same views.
  EXPECT_EQ(predict_dataset_tta(*model, val, o, xray, 3).probs, tta.probs);
  EXPECT_THROW(predict_dataset_tta(*model, val, o, xray, 0), Error);
}

// --init: a checkpoint of the same network loads whole; one with another class count loads all but the
// output layer (which keeps its fresh weights); another architecture is refused naming the file. What loads
// is decided from the file's header, not by trying and catching the error.
TEST(Train, InitLoadsAllOrAllButTheHeadOrRefuses) {
  TrainConfig c = small_config(fresh_dir("cxr_train_init"));
  c.epochs = 1;
  const std::string dir = fresh_dir("cxr_train_init_files");
  fs::create_directories(dir);
  ModelConfig mc;
  mc.arch = c.arch;
  mc.batch_norm = c.batch_norm;
  mc.width = c.width;
  mc.input_size = c.size;
  mc.in_channels = c.channels;
  mc.head = c.head;
  mc.seed = 77;
  auto save = [&](const std::string& name, const ModelConfig& m) {
    io::CheckpointMeta meta;
    meta.model = m;
    for (int k = 0; k < m.num_classes; ++k) meta.classes.push_back(str("c", k));
    io::save_checkpoint(dir + "/" + name, *make_model(m), meta);
    return dir + "/" + name;
  };
  c.init = save("same.safetensors", mc);
  std::string log = log_of([&](std::FILE* f) { train(c, f); });
  EXPECT_NE(log.find("Initialised all weights from"), std::string::npos) << log;

  ModelConfig two = mc;
  two.num_classes = 2;
  c.init = save("two.safetensors", two);
  c.out = fresh_dir("cxr_train_init_two");
  log = log_of([&](std::FILE* f) { train(c, f); });
  EXPECT_NE(log.find("except the output layer classifier."), std::string::npos) << log;

  ModelConfig other = mc;
  other.arch = "vgg13";
  c.init = save("vgg13.safetensors", other);
  c.out = fresh_dir("cxr_train_init_other");
  const std::string why = error_of([&] { train(c, quiet()); });
  EXPECT_NE(why.find("vgg13.safetensors"), std::string::npos) << why;
}
