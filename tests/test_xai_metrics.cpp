// Tests for the explanation metrics (explain/metrics.h): deletion / insertion AUC on toy score functions whose
// answers are known by construction and on a hand-computed 2x2 case, AD / IC by hand, pointing game and
// energy share, masks and the mask matcher, Spearman by hand (ties), the cascading-randomisation sanity
// check on a tiny VGG (maps change, weights come back bit for bit, a model-blind map fails), the shortcut
// finder on synthetic marker images, the dataset report, its JSON read back, and `cxr xai-eval`.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "data/synth.h"
#include "error_of.h"
#include "explain/metrics.h"
#include "image/image.h"
#include "image/transform.h"
#include "io/checkpoint.h"
#include "run_cxr.h"

namespace fs = std::filesystem;
using namespace cxr;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("cxr_test_xai_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A score function over [N, 1, H, W] images: p0 = sum_i w_i x_i (w sums to 1, x in [0, 1]), p1 = 1 - p0.
// With x = 1 everywhere and a zero baseline, p0 is the weighted share of the pixels still present.
ScoreFn weighted_presence(const std::vector<float>& w, int* calls = nullptr, int64_t* max_batch = nullptr) {
  return [w, calls, max_batch](const Tensor& x) {
    const int64_t N = x.size(0), HW = x.size(2) * x.size(3);
    EXPECT_EQ(static_cast<size_t>(HW), w.size());
    if (calls) ++*calls;
    if (max_batch) *max_batch = std::max(*max_batch, N);
    Tensor p = Tensor::empty({N, 2});
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t i = 0; i < HW; ++i) s += w[static_cast<size_t>(i)] * x[n * HW + i];
      p[2 * n] = static_cast<float>(s);
      p[2 * n + 1] = static_cast<float>(1.0 - s);
    }
    return p;
  };
}

// Region R = the first `rows` rows of an S x S image; the probability is the share of R still present.
std::vector<float> region_weights(int S, int rows) {
  std::vector<float> w(static_cast<size_t>(S * S), 0.0f);
  for (int i = 0; i < rows * S; ++i) w[static_cast<size_t>(i)] = 1.0f / static_cast<float>(rows * S);
  return w;
}

FaithfulnessOptions zero_baselines(int steps) {
  FaithfulnessOptions o;
  o.steps = steps;
  o.deletion_baseline = Baseline::Zeros;
  o.insertion_baseline = Baseline::Zeros;
  return o;
}

}  // namespace

// ---- faithfulness -------------------------------------------------------------------------------------

TEST(Faithfulness, TrapezoidAndOrder) {
  EXPECT_DOUBLE_EQ(trapezoid_auc({0.0f, 1.0f}), 0.5);
  EXPECT_DOUBLE_EQ(trapezoid_auc({1.0f, 1.0f, 0.0f}), 0.75);
  EXPECT_THROW(trapezoid_auc({1.0f}), Error);
  Tensor m = Tensor::from({0.5f, 0.9f, 0.5f, NAN, 0.1f}, {5});
  EXPECT_EQ(saliency_order(m), (std::vector<int64_t>{1, 0, 2, 4, 3}));  // ties in index order, NaN last
}

TEST(Faithfulness, PerfectAndReversedMapsOnAKnownRegion) {
  // 8 x 8 image of ones, R = the top 2 rows (16 of 64 pixels, r = 1/4), 8 steps of 8 pixels.
  const int S = 8;
  ScoreFn score = weighted_presence(region_weights(S, 2));
  Tensor img = Tensor::full({2, 1, S, S}, 1.0f);
  Tensor maps = Tensor::empty({2, S, S});
  Rng rng(3);
  for (int i = 0; i < S * S; ++i) {
    const bool in_r = i < 2 * S;
    const float jitter = rng.uniform(0.0f, 0.5f);     // any order inside and outside R
    maps[i] = (in_r ? 1.0f : 0.0f) + jitter;          // image 0: perfect
    maps[S * S + i] = (in_r ? 0.0f : 1.0f) + jitter;  // image 1: reversed
  }
  auto rows = faithfulness(score, img, maps, {0, 0}, zero_baselines(8));
  ASSERT_EQ(rows.size(), 2u);
  // Perfect: deletion falls 1 -> 0 over f in [0, r]: AUC r / 2; insertion rises over [0, r]: 1 - r / 2.
  EXPECT_EQ(rows[0].deletion, (std::vector<float>{1, 0.5f, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_NEAR(rows[0].deletion_auc, 0.125, 1e-6);
  EXPECT_NEAR(rows[0].insertion_auc, 0.875, 1e-6);
  // Reversed: R goes last (deletion 1 - r / 2) and comes back last (insertion r / 2).
  EXPECT_NEAR(rows[1].deletion_auc, 0.875, 1e-6);
  EXPECT_NEAR(rows[1].insertion_auc, 0.125, 1e-6);
  EXPECT_EQ(rows[1].insertion, (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0.5f, 1}));
  // Both rows saw the full image.
  EXPECT_FLOAT_EQ(rows[0].full, 1.0f);
  EXPECT_FLOAT_EQ(rows[1].full, 1.0f);
}

TEST(Faithfulness, HandComputedTwoByTwo) {
  // Weights 0.1 0.2 / 0.3 0.4, map 0.1 0.9 / 0.5 0.3: order 1, 2, 3, 0; 4 steps of one pixel.
  ScoreFn score = weighted_presence({0.1f, 0.2f, 0.3f, 0.4f});
  Tensor img = Tensor::full({1, 1, 2, 2}, 1.0f);
  Tensor map = Tensor::from({0.1f, 0.9f, 0.5f, 0.3f}, {1, 2, 2});
  auto r = faithfulness(score, img, map, {0}, zero_baselines(4))[0];
  const std::vector<float> del = {1.0f, 0.8f, 0.5f, 0.1f, 0.0f}, ins = {0.0f, 0.2f, 0.5f, 0.9f, 1.0f};
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_NEAR(r.deletion[k], del[k], 1e-6) << k;
    EXPECT_NEAR(r.insertion[k], ins[k], 1e-6) << k;
  }
  EXPECT_NEAR(r.deletion_auc, 3.8 / 8, 1e-6);   // (1.8 + 1.3 + 0.6 + 0.1) / 2 / 4
  EXPECT_NEAR(r.insertion_auc, 4.2 / 8, 1e-6);  // (0.2 + 0.7 + 1.4 + 1.9) / 2 / 4
  // AD / IC: E = minmax(map) = 0, 1, 0.5, 0.25; O = 0.1*0 + 0.2*1 + 0.3*0.5 + 0.4*0.25 = 0.45, Y = 1.
  EXPECT_NEAR(r.full, 1.0, 1e-6);
  EXPECT_NEAR(r.masked, 0.45, 1e-6);
  EXPECT_NEAR(r.drop, 0.55, 1e-6);
  EXPECT_FALSE(r.increase);
  // The other class (p1 = 1 - p0): Y = 0, O = 0.55: no drop (Y = 0), an increase; curves mirrored.
  auto r1 = faithfulness(score, img, map, {1}, zero_baselines(4))[0];
  EXPECT_NEAR(r1.deletion_auc, 1.0 - 3.8 / 8, 1e-6);
  EXPECT_DOUBLE_EQ(r1.drop, 0.0);
  EXPECT_TRUE(r1.increase);
  // Two steps over four pixels: m = round(k * 4 / 2) = 0, 2, 4.
  auto r2 = faithfulness(score, img, map, {0}, zero_baselines(2))[0];
  EXPECT_NEAR(r2.deletion[1], 0.5f, 1e-6);
}

TEST(Faithfulness, AverageDropAndIncreaseInConfidenceByHand) {
  std::vector<FaithfulnessRow> rows(4);
  rows[0].full = 0.8f, rows[0].masked = 0.6f, rows[0].drop = 0.25;  // drop (0.8 - 0.6) / 0.8
  rows[1].full = 0.5f, rows[1].masked = 0.7f, rows[1].increase = true;
  rows[2].full = 0.4f, rows[2].masked = 0.1f, rows[2].drop = 0.75;
  rows[3].full = 0.9f, rows[3].masked = 0.9f;
  for (auto& r : rows) r.deletion_auc = 0.2, r.insertion_auc = 0.6;
  FaithfulnessSummary s = summarize(rows);
  EXPECT_EQ(s.images, 4);
  EXPECT_NEAR(s.average_drop, 100.0 * (0.25 + 0.75) / 4, 1e-9);
  EXPECT_NEAR(s.increase_in_confidence, 25.0, 1e-9);
  EXPECT_NEAR(s.deletion_auc, 0.2, 1e-12);
  // And through faithfulness(): the same Y / O pairs from a score function that reads the mask E.
  // Image x = 1, map = [0, 1] (E = map): O = sum w_i E_i, Y = sum w_i.
  ScoreFn score = weighted_presence({0.5f, 0.5f});
  Tensor img = Tensor::full({1, 1, 1, 2}, 1.0f);
  auto r = faithfulness(score, img, Tensor::from({0.0f, 1.0f}, {1, 1, 2}), {0}, zero_baselines(2))[0];
  EXPECT_NEAR(r.drop, 0.5, 1e-6);  // Y = 1, O = 0.5
}

TEST(Faithfulness, BatchesScoreCallsAndCountsImages) {
  int calls = 0;
  int64_t max_batch = 0;
  const int S = 4, n = 5;
  ScoreFn score = weighted_presence(region_weights(S, 1), &calls, &max_batch);
  FaithfulnessOptions o = zero_baselines(n);
  o.batch = 7;
  Tensor img = Tensor::full({3, 1, S, S}, 1.0f);
  Rng rng(5);
  Tensor maps = Tensor::empty({3, S, S});
  for (int64_t i = 0; i < maps.numel(); ++i) maps[i] = rng.uniform();
  faithfulness(score, img, maps, {0, 0, 0}, o);
  // 2n + 2 = 12 images per explained image, 36 in chunks of at most 7.
  EXPECT_EQ(calls, (36 + 6) / 7);
  EXPECT_EQ(max_batch, 7);
  EXPECT_THROW(faithfulness(score, img, maps, {0, 0}, o), Error);
  EXPECT_THROW(faithfulness(score, img, Tensor::zeros({3, S, S + 1}), {0, 0, 0}, o), Error);
}

TEST(Faithfulness, Baselines) {
  // A blur keeps a constant image and the mean of each plane (edges replicated: only approximately).
  Tensor c = Tensor::full({2, 9, 9}, 0.3f);
  Tensor b = baseline_image(c, Baseline::Blur, 1.5f);
  for (int64_t i = 0; i < b.numel(); ++i) EXPECT_NEAR(b[i], 0.3f, 1e-6);
  // A delta spreads into a normalised Gaussian: its sum is kept, its peak lowered, symmetric.
  Tensor d = Tensor::zeros({1, 21, 21});
  d[10 * 21 + 10] = 1.0f;
  Tensor g = gaussian_blur(d, 2.0f);
  double sum = 0;
  for (int64_t i = 0; i < g.numel(); ++i) sum += g[i];
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_LT(g[10 * 21 + 10], 0.1f);
  EXPECT_NEAR(g[10 * 21 + 12], g[12 * 21 + 10], 1e-7);
  EXPECT_NEAR(g[10 * 21 + 12], g[10 * 21 + 8], 1e-7);
  // Separable Gaussian by hand at offset 1 along a row for the delta: k(1) * k(0) with k normalised.
  double k0 = 0, norm = 0;
  for (int i = -6; i <= 6; ++i) norm += std::exp(-0.5 * i * i / 4.0);
  k0 = 1.0 / norm;
  EXPECT_NEAR(g[10 * 21 + 11], k0 * std::exp(-0.5 / 4.0) * k0, 1e-6);
  Tensor z = baseline_image(c, Baseline::Zeros);
  for (int64_t i = 0; i < z.numel(); ++i) EXPECT_EQ(z[i], 0.0f);
  EXPECT_EQ(parse_baseline("blur"), Baseline::Blur);
  EXPECT_THROW(parse_baseline("noise"), Error);
}

// ---- localisation -------------------------------------------------------------------------------------

TEST(Localization, PointingGameHitMissAndTolerance) {
  Tensor map = Tensor::zeros({20, 20}), mask = Tensor::zeros({20, 20});
  map[5 * 20 + 5] = 1.0f;
  map[0] = 0.5f;
  for (int y = 10; y < 13; ++y) mask[y * 20 + 5] = 1.0f;  // nearest mask pixel: (10, 5), 5 px below the peak
  PointingResult r = pointing_game(map, mask, 4);
  EXPECT_TRUE(r.scored);
  EXPECT_FALSE(r.hit);
  EXPECT_EQ(r.y, 5);
  EXPECT_EQ(r.x, 5);
  EXPECT_DOUBLE_EQ(r.distance, 5.0);
  EXPECT_TRUE(pointing_game(map, mask, 5).hit);
  // Diagonal distance: the mask pixel (8, 9) is 5 px from (5, 5) (3-4-5).
  Tensor m2 = Tensor::zeros({20, 20});
  m2[8 * 20 + 9] = 1.0f;
  EXPECT_DOUBLE_EQ(pointing_game(map, m2, 4).distance, 5.0);
  EXPECT_FALSE(pointing_game(map, m2, 4).hit);
  // Inside the mask: a hit with no tolerance.
  mask[5 * 20 + 5] = 1.0f;
  EXPECT_TRUE(pointing_game(map, mask, 0).hit);
  // Empty mask: not scored; constant map: a miss.
  EXPECT_FALSE(pointing_game(map, Tensor::zeros({20, 20})).scored);
  PointingResult flat = pointing_game(Tensor::full({20, 20}, 0.3f), mask, 100);
  EXPECT_TRUE(flat.scored);
  EXPECT_FALSE(flat.hit);
  EXPECT_THROW(pointing_game(map, Tensor::zeros({20, 21})), Error);
  // Zhang et al.'s 15 px at 224, scaled.
  EXPECT_EQ(default_pointing_tolerance(224), 15);
  EXPECT_EQ(default_pointing_tolerance(448), 30);
  EXPECT_EQ(default_pointing_tolerance(64), 4);  // 4.29
  EXPECT_EQ(default_pointing_tolerance(8), 1);   // at least 1
  // The default applies when tolerance < 0: at 20 px it is 1, so the 5 px miss stays a miss.
  mask[5 * 20 + 5] = 0.0f;
  EXPECT_FALSE(pointing_game(map, mask).hit);
}

TEST(Localization, EnergyShareExact) {
  Tensor map = Tensor::from({1, 2, -1, 0, 3, 0, 4, 0, -5}, {3, 3});
  Tensor mask = Tensor::from({1, 1, 0, 0, 1, 0, 0, 0, 1}, {3, 3});
  EXPECT_DOUBLE_EQ(energy_share(map, mask), 6.0 / 10.0);  // negatives count as 0
  EXPECT_TRUE(std::isnan(energy_share(map, Tensor::zeros({3, 3}))));
  EXPECT_TRUE(std::isnan(energy_share(Tensor::full({3, 3}, -1.0f), mask)));
  EXPECT_DOUBLE_EQ(energy_share(Tensor::full({3, 3}, 2.0f), mask), 4.0 / 9.0);
}

TEST(Localization, MasksAreResizedAndThresholded) {
  // 4 x 4 -> 2 x 2: each output averages a 2 x 2 block (antialiased), then >= 0.5.
  Tensor m = Tensor::from({1, 1, 0, 0,  //
                           1, 1, 0, 1,  //
                           1, 0, 0, 0,  //
                           1, 1, 0, 0},
                          {1, 4, 4});
  Tensor p = prepare_mask(m, 2, 2);
  EXPECT_EQ(std::vector<float>(p.data(), p.data() + 4), (std::vector<float>{1, 0, 1, 0}));
  // Same size: only the threshold; an RGB mask goes through luma.
  Tensor rgb = Tensor::zeros({3, 1, 2});
  rgb[0] = rgb[2] = rgb[4] = 0.6f;  // pixel 0 grey 0.6
  rgb[1] = 0.9f;                    // pixel 1 red only: luma 0.27
  Tensor q = prepare_mask(rgb, 1, 2);
  EXPECT_EQ(q[0], 1.0f);
  EXPECT_EQ(q[1], 0.0f);
  // From a PNG (0 / 255) on disk.
  fs::path d = temp_dir("mask_png");
  Tensor img = Tensor::zeros({1, 6, 6});
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 6; ++x) img[y * 6 + x] = 1.0f;
  image::save_png((d / "m.png").string(), img);
  Tensor l = load_mask((d / "m.png").string(), 6, 6);
  for (int i = 0; i < 36; ++i) EXPECT_EQ(l[i], i < 18 ? 1.0f : 0.0f) << i;
  fs::remove_all(d);
}

TEST(Localization, MaskMatcherByFileName) {
  EXPECT_EQ(mask_key("a/b/synth-000003_mask.png"), "synth-000003");
  EXPECT_EQ(mask_key("x-MASK.PNG"), "x");
  EXPECT_EQ(mask_key("scan.jpeg"), "scan");
  EXPECT_EQ(mask_key("_mask.png"), "_mask");  // nothing would be left: kept
  EXPECT_EQ(mask_key("person1_bacteria_2.jpeg"), "person1_bacteria_2");

  fs::path d = temp_dir("matcher");
  auto touch = [&](const fs::path& p) {
    fs::create_directories(p.parent_path());
    image::save_png(p.string(), Tensor::zeros({1, 2, 2}));
  };
  touch(d / "m" / "scan1_mask.png");
  touch(d / "m" / "sub" / "scan2-mask.png");
  touch(d / "m" / "scan3.png");
  touch(d / "m" / ".hidden" / "scan4.png");
  std::ofstream(d / "m" / "scan5.txt") << "not an image";
  // cxr synth's layout: the same stem for every split and class.
  for (const char* split : {"test", "val"})
    for (const char* cls : {"COVID19", "NORMAL"}) touch(d / "m" / "lesion" / split / cls / "synth-000001.png");
  touch(d / "m" / "x" / "dup.png");
  touch(d / "m" / "y" / "dup.png");
  MaskFolder f((d / "m").string());
  EXPECT_EQ(f.size(), 9u);
  EXPECT_EQ(f.find("/data/scan1.png"), (d / "m" / "scan1_mask.png").string());
  EXPECT_EQ(f.find("scan2.jpg"), (d / "m" / "sub" / "scan2-mask.png").string());
  EXPECT_EQ(f.find("/elsewhere/scan3.jpeg"), (d / "m" / "scan3.png").string());
  EXPECT_EQ(f.find("scan4.png"), "");  // hidden folder skipped
  EXPECT_EQ(f.find("scan5.png"), "");
  EXPECT_EQ(f.find("Scan1.png"), "");  // case-sensitive stems
  bool ambiguous = false;
  EXPECT_EQ(f.find("/data/synth/test/NORMAL/synth-000001.png", &ambiguous),
            (d / "m" / "lesion" / "test" / "NORMAL" / "synth-000001.png").string());
  EXPECT_FALSE(ambiguous);
  EXPECT_EQ(f.find("/data/val/COVID19/synth-000001.png"),
            (d / "m" / "lesion" / "val" / "COVID19" / "synth-000001.png").string());
  EXPECT_EQ(f.find("/data/train/COVID19/synth-000001.png", &ambiguous), "");  // test or val: a tie
  EXPECT_TRUE(ambiguous);
  EXPECT_EQ(f.find("/data/z/dup.png", &ambiguous), "");
  EXPECT_TRUE(ambiguous);
  EXPECT_EQ(f.find("/data/y/dup.png", &ambiguous), (d / "m" / "y" / "dup.png").string());
  EXPECT_FALSE(ambiguous);
  EXPECT_THROW(MaskFolder((d / "none").string()), Error);
  // resolve_mask_folders: lesion/ (and lung/) sub-folders are used as such.
  auto folders = resolve_mask_folders((d / "m").string(), "lung");
  ASSERT_EQ(folders.size(), 1u);
  EXPECT_EQ(folders.count("lesion"), 1u);
  auto plain = resolve_mask_folders((d / "m" / "sub").string(), "lung");
  ASSERT_EQ(plain.count("lung"), 1u);
  EXPECT_THROW(resolve_mask_folders((d / "m").string(), "heart"), Error);
  fs::remove_all(d);
}

// ---- Spearman and the sanity check --------------------------------------------------------------------

TEST(Sanity, SpearmanByHandWithTies) {
  Tensor a = Tensor::from({1, 2, 2, 4, 5}, {5}), b = Tensor::from({5, 6, 7, 8, 7}, {5});
  EXPECT_EQ(average_ranks(a), (std::vector<double>{1, 2.5, 2.5, 4, 5}));
  EXPECT_EQ(average_ranks(b), (std::vector<double>{1, 2, 3.5, 5, 3.5}));
  // Ranks minus 3: (-2, -.5, -.5, 1, 2) and (-2, -1, .5, 2, .5): 7.25 / sqrt(9.5 * 9.5).
  EXPECT_NEAR(spearman(a, b), 7.25 / 9.5, 1e-12);
  EXPECT_NEAR(spearman(Tensor::from({1, 2, 3}, {3}), Tensor::from({10, 20, 300}, {3})), 1.0, 1e-12);
  EXPECT_NEAR(spearman(Tensor::from({1, 2, 3}, {3}), Tensor::from({3, 2, 1}, {3})), -1.0, 1e-12);
  // Signs: ranks (1, 2, 3) vs (3, 1, 2) give -0.5; with absolute values both are (3, 1, 2): 1.
  Tensor s = Tensor::from({-3, 1, 2}, {3}), t = Tensor::from({3, 1, 2}, {3});
  EXPECT_NEAR(spearman(s, t), -0.5, 1e-12);
  EXPECT_NEAR(spearman(s, t, true), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(spearman(Tensor::full({4}, 1.0f), Tensor::from({1, 2, 3, 4}, {4}))));
  EXPECT_THROW(spearman(a, Tensor::zeros({4})), Error);
}

namespace {

std::shared_ptr<Model> tiny_vgg(bool bn = false) {
  ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = bn;
  c.width = 0.125f;
  c.input_size = 64;
  c.in_channels = 1;
  c.head = "gap256";
  c.seed = 4;
  auto m = make_model(c);
  m->eval();
  return m;
}

// Synthetic X-rays as model inputs [N, 1, S, S].
Tensor synth_batch(int S, int N, uint64_t seed = 9) {
  data::SynthOptions o;
  o.size = S;
  Tensor x = Tensor::empty({N, 1, S, S});
  const auto& names = data::synth_class_names();
  for (int i = 0; i < N; ++i) {
    data::SynthSample s =
        data::render_sample(o, names[static_cast<size_t>(i) % names.size()], seed + static_cast<uint64_t>(i));
    std::copy(s.image.data(), s.image.data() + S * S, x.data() + i * S * S);
  }
  return x;
}

std::vector<Tensor> state_of(Model& m) {
  std::vector<Tensor> out;
  for (auto& [n, v] : m.named_parameters()) out.push_back(v->data().clone());
  for (auto& [n, t] : m.named_buffers()) out.push_back(t->clone());
  return out;
}

void expect_same_state(Model& m, const std::vector<Tensor>& before) {
  std::vector<Tensor> now = state_of(m);
  ASSERT_EQ(now.size(), before.size());
  for (size_t i = 0; i < now.size(); ++i) {
    ASSERT_EQ(now[i].shape(), before[i].shape());
    EXPECT_EQ(std::memcmp(now[i].data(), before[i].data(), sizeof(float) * static_cast<size_t>(now[i].numel())), 0)
        << "tensor " << i;
  }
}

// |horizontal| + |vertical| differences of the input: a "saliency map" that never looks at the model.
Tensor edges(const Tensor& x) {
  const int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  Tensor out = Tensor::zeros({N, H, W});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y = 0; y + 1 < H; ++y)
      for (int64_t i = 0; i + 1 < W; ++i) {
        const float* p = x.data() + n * H * W + y * W + i;
        out[n * H * W + y * W + i] = std::fabs(p[1] - p[0]) + std::fabs(p[W] - p[0]);
      }
  return out;
}

}  // namespace

TEST(XaiFns, ScoreFunctionAndPerImageClasses) {
  auto m = tiny_vgg();
  const Tensor x = synth_batch(64, 3);
  Tensor one = model_score_fn(*m, 1)(x), all = model_score_fn(*m, 32)(x);
  ASSERT_EQ(all.shape(), (Shape{3, 3}));
  for (int64_t n = 0; n < 3; ++n) {
    double s = 0;
    for (int64_t k = 0; k < 3; ++k) {
      s += all[n * 3 + k];
      EXPECT_NEAR(one[n * 3 + k], all[n * 3 + k], 1e-5);
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  // Per-image classes: each image gets its own class, the same map as when asked alone.
  ExplainRequest req;
  req.layers = {"relu4_2"};
  auto ex = explain_for_classes(*m, x, req, {2, 0, 2});
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_EQ(ex[0].class_index, 2);
  EXPECT_EQ(ex[1].class_index, 0);
  EXPECT_EQ(ex[2].class_index, 2);
  auto alone = explain_for_classes(*m, x.slice(1, 2), req, {0});
  Tensor a = input_map(ex[1], 64, 64), b = input_map(alone[0], 64, 64);
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << i;
  Tensor maps = cam_map_fn(*m, req, {2, 0, 2})(x);
  EXPECT_EQ(maps.shape(), (Shape{3, 64, 64}));
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(maps[64 * 64 + i], a[i]) << i;
  EXPECT_THROW(explain_for_classes(*m, x, req, {0, 1}), Error);
}

TEST(XaiFns, GuidedGradCamIsMeasuredOnItsProductImage) {
  auto m = tiny_vgg();
  const Tensor x = synth_batch(64, 1);
  ExplainRequest req;
  req.method = CamMethod::GuidedGradCAM;
  req.layers = {"relu4_2"};
  auto ex = explain_for_classes(*m, x, req, {1});
  ASSERT_EQ(ex.size(), 1u);
  ASSERT_FALSE(ex[0].degenerate);
  const Tensor& g = ex[0].guided;
  ASSERT_EQ(g.shape(), (Shape{1, 64, 64}));
  // Expected: |guided x CAM| min-max scaled to [0, 1], computed here from the product image.
  float peak = 0, low = INFINITY;
  for (int64_t i = 0; i < g.numel(); ++i) {
    peak = std::max(peak, std::fabs(g[i]));
    low = std::min(low, std::fabs(g[i]));
  }
  ASSERT_GT(peak, low);
  Tensor got = input_map(ex[0], 64, 64), cam = map_at_input(ex[0], 64, 64);
  double off_cam = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_NEAR(got[i], (std::fabs(g[i]) - low) / (peak - low), 1e-5) << i;
    off_cam += std::fabs(got[i] - cam[i]);
  }
  EXPECT_GT(off_cam / got.numel(), 1e-3) << "guided Grad-CAM measured on its plain CAM";
}

TEST(Sanity, UnitsTopDownWithBatchNorm) {
  auto m = tiny_vgg(true);
  auto units = randomization_units(*m);
  ASSERT_EQ(units.size(), 10u);  // 8 convs (+ their batch-norms), gap256: 2 linears
  EXPECT_EQ(units[0].name, "features.0+features.1");
  EXPECT_EQ(units[0].modules.size(), 2u);
  EXPECT_EQ(units.back().name, "classifier.3");
  // Re-initialisation follows the model's own rule.
  Rng rng(1);
  reinitialize(units.back(), rng);
  auto* fc = dynamic_cast<Linear*>(units.back().modules[0]);
  ASSERT_NE(fc, nullptr);
  double ss = 0;
  for (int64_t i = 0; i < fc->weight.numel(); ++i) ss += double(fc->weight.data()[i]) * fc->weight.data()[i];
  EXPECT_NEAR(std::sqrt(ss / static_cast<double>(fc->weight.numel())), 0.01, 0.003);
  for (int64_t i = 0; i < fc->bias.numel(); ++i) EXPECT_EQ(fc->bias.data()[i], 0.0f);
  auto* bn = dynamic_cast<BatchNorm2d*>(units[0].modules[1]);
  ASSERT_NE(bn, nullptr);
  bn->weight.data().fill(3.0f);
  reinitialize(units[0], rng);
  EXPECT_EQ(bn->weight.data()[0], 1.0f);
}

TEST(Sanity, GradCamChangesAsLayersAreRandomisedAndWeightsComeBack) {
  auto m = tiny_vgg();
  const Tensor x = synth_batch(64, 2);
  const auto before = state_of(*m);
  ExplainRequest req;
  req.method = CamMethod::GradCAM;
  req.layers = {"relu4_2"};  // 8 x 8 at 64 px: a map with something to rank
  // The classes the original model predicts, bound for every step.
  std::vector<int> cls;
  for (const auto& e : explain_for_classes(*m, x, req, {})) cls.push_back(e.class_index);
  const Tensor original = cam_map_fn(*m, req, cls)(x);
  SanityResult r = cascading_randomization(*m, cam_map_fn(*m, req, cls), x, {});
  expect_same_state(*m, before);
  ASSERT_EQ(r.units, 10);
  EXPECT_EQ(r.half, 5);
  ASSERT_EQ(r.steps.size(), 10u);
  EXPECT_EQ(r.steps[0].layer, "classifier.3");
  EXPECT_EQ(r.steps.back().layer, "features.0");
  for (const auto& s : r.steps) {
    std::printf("  %-14s rho %.3f  abs %.3f\n", s.layer.c_str(), s.mean_rho, s.mean_rho_abs);
    EXPECT_EQ(s.rho.size(), 2u);
    // From 1 (the maps themselves) the correlation falls at once and stays low: Grad-CAM depends on the
    // logits' weights first of all (Adebayo et al.'s figure 2). An untrained model's own maps are already
    // input-driven, so it need not fall monotonically as lower layers go.
    EXPECT_LT(s.mean_rho, 0.6) << s.layer;
  }
  EXPECT_TRUE(r.passed) << r.verdict;
  EXPECT_LT(r.rho_at_half, 0.9);
  // The same model gives the same maps again: restored exactly.
  const Tensor again = cam_map_fn(*m, req, cls)(x);
  ASSERT_EQ(again.shape(), original.shape());
  EXPECT_EQ(std::memcmp(again.data(), original.data(), sizeof(float) * static_cast<size_t>(again.numel())), 0);
  SanityResult r2 = cascading_randomization(*m, cam_map_fn(*m, req, cls), x, {});
  EXPECT_EQ(r2.steps.back().mean_rho, r.steps.back().mean_rho);  // same seed, same maps
}

TEST(Sanity, AModelBlindMapFails) {
  auto m = tiny_vgg();
  const Tensor x = synth_batch(64, 2);
  const auto before = state_of(*m);
  SanityResult r = cascading_randomization(*m, edges, x, {});
  EXPECT_FALSE(r.passed) << r.verdict;
  EXPECT_NEAR(r.rho_at_half, 1.0, 1e-12);
  EXPECT_NE(r.verdict.find("FAIL"), std::string::npos);
  expect_same_state(*m, before);
}

TEST(Sanity, WeightsAreRestoredWhenTheMapFunctionThrows) {
  auto m = tiny_vgg(true);
  const Tensor x = synth_batch(64, 1);
  const auto before = state_of(*m);
  int calls = 0;
  MapFn boom = [&](const Tensor& imgs) {
    if (++calls == 4) throw Error("map function failed");
    return edges(imgs);
  };
  EXPECT_THROW(cascading_randomization(*m, boom, x, {}), Error);
  EXPECT_EQ(calls, 4);
  expect_same_state(*m, before);
}

// ---- shortcut finder ----------------------------------------------------------------------------------

// The finder's default band is where `cxr synth` burns its markers: two definitions, one number, at every
// size a model is trained at (32..512 px) and the small ones where the 10-pixel floor holds.
TEST(Shortcut, DefaultBandIsTheSyntheticMarkersBand) {
  for (int size : {16, 32, 49, 50, 51, 64, 96, 128, 200, 224, 256, 512}) {
    EXPECT_EQ(default_shortcut_band(size), data::marker_band_px(size)) << size;
  }
  EXPECT_EQ(default_shortcut_band(32), 10);
  EXPECT_EQ(default_shortcut_band(224), 45);
}

TEST(Shortcut, BandAndShares) {
  Tensor band = border_band(6, 6, 2);
  double s = 0;
  for (int64_t i = 0; i < band.numel(); ++i) s += band[i];
  EXPECT_EQ(s, 36 - 4);  // only the central 2 x 2 is outside
  EXPECT_EQ(band[2 * 6 + 2], 0.0f);
  EXPECT_EQ(band[1 * 6 + 3], 1.0f);
  // 10 x 10, band 2, lungs = the centre 6 x 6. Energy 3 at (0, 0) (band, outside), 1 at (5, 5) (lung).
  Tensor map = Tensor::zeros({10, 10}), lung = Tensor::zeros({10, 10});
  for (int y = 2; y < 8; ++y)
    for (int x = 2; x < 8; ++x) lung[y * 10 + x] = 1.0f;
  map[0] = 3.0f;
  map[55] = 1.0f;
  ShortcutOptions o;
  o.band = 2;
  ShortcutScore sc = shortcut_score(map, lung, o);
  EXPECT_DOUBLE_EQ(sc.border, 0.75);
  EXPECT_DOUBLE_EQ(sc.outside_lung, 0.75);
  EXPECT_DOUBLE_EQ(sc.suspect, 0.75);
  EXPECT_TRUE(sc.peak_in_band);
  EXPECT_TRUE(sc.flagged);
  // The same shares but the peak inside, off the band: not flagged.
  map[0] = 1.0f, map[1] = 1.0f, map[2] = 1.0f, map[55] = 1.5f;
  sc = shortcut_score(map, lung, o);
  EXPECT_NEAR(sc.suspect, 3.0 / 4.5, 1e-12);
  EXPECT_FALSE(sc.peak_in_band);
  EXPECT_FALSE(sc.flagged);
  // Peak in the band but on the lung (band 3 reaches row 2 of the lungs), suspect 2.2 / 3.7: flagged.
  Tensor m3 = Tensor::zeros({10, 10});
  m3[0] = 1.0f, m3[1] = 1.2f, m3[2 * 10 + 4] = 1.5f;
  ShortcutOptions o3;
  o3.band = 3;
  sc = shortcut_score(m3, lung, o3);
  EXPECT_NEAR(sc.suspect, 2.2 / 3.7, 1e-6);
  EXPECT_NEAR(sc.outside_lung, 2.2 / 3.7, 1e-6);
  EXPECT_DOUBLE_EQ(sc.border, 1.0);
  EXPECT_TRUE(sc.flagged);
  m3[2 * 10 + 4] = 2.3f;  // now less than half off the lungs
  EXPECT_FALSE(shortcut_score(m3, lung, o3).flagged);
  // Without lungs the border share is read, at 0.9.
  Tensor m2 = Tensor::zeros({10, 10});
  m2[0] = 9.0f, m2[55] = 1.0f;
  sc = shortcut_score(m2, Tensor(), o);
  EXPECT_TRUE(std::isnan(sc.outside_lung));
  EXPECT_NEAR(sc.suspect, 0.9, 1e-12);
  EXPECT_TRUE(sc.flagged);
  m2[55] = 1.5f;
  EXPECT_FALSE(shortcut_score(m2, Tensor(), o).flagged);
  EXPECT_TRUE(std::isnan(shortcut_score(Tensor::zeros({10, 10}), lung, o).suspect));
  EXPECT_FALSE(shortcut_score(Tensor::zeros({10, 10}), lung, o).flagged);
  // Ranking: by suspect, NaN last.
  std::vector<ShortcutScore> v(3);
  v[0].suspect = 0.2, v[1].suspect = NAN, v[2].suspect = 0.7;
  EXPECT_EQ(rank_by_suspicion(v), (std::vector<size_t>{2, 0, 1}));
}

TEST(Shortcut, FlagsSyntheticMarkerImagesWhenTheMapSitsOnTheMarker) {
  data::SynthOptions o;
  o.size = 128;
  o.shortcut_rate = 1.0f;
  o.shortcut_class = "COVID19";
  int flagged_marker = 0, flagged_lesion = 0, flagged_lung = 0, n = 0, no_lungs_marker = 0, no_lungs_lesion = 0;
  for (int i = 0; i < 8; ++i) {
    data::SynthSample s = data::render_sample(o, "COVID19", data::sample_seed(o.seed, "test", "COVID19", i));
    ASSERT_TRUE(s.shortcut);
    const Tensor lung = prepare_mask(s.lung_mask, 128, 128);
    // A coarse map on the marker (what a model that learned the shortcut shows): the marker mask blurred
    // about as coarse as Grad-CAM (relu5_3 of VGG at 224 px is 14 x 14: 9 px cells at 128 px).
    Tensor on_marker = gaussian_blur(s.marker_mask, 6.0f).reshape({128, 128});
    Tensor on_lesion = gaussian_blur(s.lesion_mask, 6.0f).reshape({128, 128});
    Tensor on_lungs = gaussian_blur(s.lung_mask, 6.0f).reshape({128, 128});
    ShortcutScore a = shortcut_score(on_marker, lung), b = shortcut_score(on_lesion, lung),
                  c = shortcut_score(on_lungs, lung);
    std::printf("  image %d: marker suspect %.2f border %.2f | lesion suspect %.2f border %.2f | lungs %.2f\n", i,
                a.suspect, a.border, b.suspect, b.border, c.suspect);
    flagged_marker += a.flagged;
    flagged_lesion += b.flagged;
    flagged_lung += c.flagged;
    no_lungs_marker += shortcut_score(on_marker, Tensor()).flagged;
    no_lungs_lesion += shortcut_score(on_lesion, Tensor()).flagged;
    ++n;
  }
  EXPECT_EQ(flagged_marker, n);
  EXPECT_EQ(flagged_lesion, 0);
  EXPECT_EQ(flagged_lung, 0);
  // Without lung masks the rule is weaker (see explain/shortcut.h), but it holds on these.
  EXPECT_EQ(no_lungs_marker, n);
  EXPECT_EQ(no_lungs_lesion, 0);
}

// ---- the dataset report and the command -----------------------------------------------------------------

namespace {

struct SynthFixture {
  fs::path dir;
  std::string ckpt;
  SynthFixture() {
    dir = temp_dir("report");
    data::SynthOptions o;
    o.size = 64;
    o.train = 0;
    o.val = 0;
    o.test = 2;
    o.shortcut_rate = 1.0f;
    data::write_dataset(o, (dir / "synth").string());
    auto m = tiny_vgg();
    io::CheckpointMeta meta;
    meta.model = m->config();
    meta.classes = o.classes;
    ckpt = (dir / "model.safetensors").string();
    io::save_checkpoint(ckpt, *m, meta);
  }
  ~SynthFixture() { fs::remove_all(dir); }
  int run(const std::string& args) const { return cxr_test::run_cxr(args, (dir / "log.txt").string()); }
  std::string log() const { return cxr_test::read_text((dir / "log.txt").string()); }
};

}  // namespace

TEST(XaiReport, EvaluatesASyntheticDatasetWithManifestMasks) {
  SynthFixture fx;
  data::Dataset ds = data::open_dataset((fx.dir / "synth").string());
  auto m = tiny_vgg();
  const auto before = state_of(*m);
  XaiOptions opt;
  opt.request.layers = {"relu4_2"};
  opt.faithfulness.steps = 4;
  opt.batch = 4;
  opt.sanity_images = 2;
  XaiReport r = evaluate_explanations(*m, ds, opt);
  expect_same_state(*m, before);
  ASSERT_EQ(r.rows.size(), 6u);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.method, CamMethod::GradCAM);
  // relu4_2 of torchvision's vgg11 numbering: the name a report resolves, and the display string.
  EXPECT_EQ(r.layers, std::vector<std::string>{"features.14"});
  EXPECT_EQ(r.layer, "features.14 (relu4_2)");
  EXPECT_EQ(r.shortcut_band, data::marker_band_px(64));
  int64_t with_faith = 0, lesion_scored = 0;
  for (const auto& row : r.rows) {
    EXPECT_GE(row.label, 0);
    EXPECT_EQ(row.target, row.predicted);  // target "pred"
    EXPECT_TRUE(row.lung.available);       // every synth image has a lung mask in the manifest
    EXPECT_TRUE(row.lesion.available);
    // Every map of this case can be drawn; a degenerate one would have none of the measures below.
    ASSERT_FALSE(row.degenerate) << row.path << ": " << row.degenerate_reason;
    ASSERT_TRUE(row.faithfulness.has_value());
    EXPECT_EQ(row.faithfulness->deletion.size(), 5u);
    ++with_faith;
    // NORMAL's lesion mask is empty: not scored.
    EXPECT_EQ(row.lesion.pointing.scored, ds.class_names[static_cast<size_t>(row.label)] != "NORMAL");
    lesion_scored += row.lesion.pointing.scored;
  }
  EXPECT_EQ(r.degenerate, 0);
  EXPECT_EQ(r.faithfulness.images, with_faith);
  EXPECT_TRUE(r.markers_known);
  int64_t markers = 0;
  for (const auto& row : r.rows) markers += row.source == "synth-marker";
  EXPECT_EQ(r.marker_images, markers);
  ASSERT_GT(lesion_scored, 0) << "the case must score some lesion masks";
  EXPECT_EQ(r.localization["lesion"]["all"].scored, lesion_scored);
  ASSERT_TRUE(r.sanity.has_value());
  EXPECT_EQ(r.sanity->steps.size(), 10u);
  nlohmann::json j = to_json(r);
  EXPECT_EQ(j["rows"].size(), 6u);
  EXPECT_TRUE(j["faithfulness"].contains("deletion_auc"));
  EXPECT_TRUE(j["shortcut"].contains("ranking"));
  EXPECT_TRUE(j.contains("sanity"));
  EXPECT_EQ(j["layers"], nlohmann::json::array({"features.14"}));
  const std::string table = format_report(r);
  EXPECT_NE(table.find("Shortcut finder"), std::string::npos);
  // --target true explains the labels; limit.
  opt.target = "true";
  opt.limit = 3;
  opt.sanity_images = 0;
  XaiReport t = evaluate_explanations(*m, ds, opt);
  ASSERT_EQ(t.rows.size(), 3u);
  for (const auto& row : t.rows) EXPECT_EQ(row.target, row.label);
  EXPECT_EQ(t.rows[1].index, 2);  // evenly spaced: 0, 2, 4 of 6
  EXPECT_EQ(t.rows[2].path, ds.samples[4].path);
  EXPECT_FALSE(t.sanity.has_value());
}

TEST(XaiReport, EvaluationSubsetIsEvenlySpaced) {
  EXPECT_EQ(evaluation_subset(5, 0), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(evaluation_subset(5, 9), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(evaluation_subset(10, 4), (std::vector<int64_t>{0, 2, 5, 7}));
  EXPECT_EQ(evaluation_subset(120, 3), (std::vector<int64_t>{0, 40, 80}));
  EXPECT_TRUE(evaluation_subset(0, 3).empty());
}

TEST(XaiReport, MakeReportAggregatesPerClass) {
  std::vector<XaiImageRow> rows(4);
  auto mark = [](XaiImageRow& r, int label, bool hit, double energy) {
    r.label = label;
    r.target = label;
    r.lesion.available = true;
    r.lesion.pointing.scored = true;
    r.lesion.pointing.hit = hit;
    r.lesion.energy = energy;
    r.faithfulness = FaithfulnessRow{};
  };
  mark(rows[0], 0, true, 0.8);
  mark(rows[1], 0, false, 0.4);
  mark(rows[2], 2, true, 0.5);
  rows[3].error = "broken.png: cannot decode";
  rows[1].shortcut.suspect = 0.9;
  rows[1].shortcut.flagged = true;
  XaiReport r = make_report(rows, {"COVID19", "NORMAL", "PNEUMONIA"}, {});
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.flagged, 1);
  EXPECT_EQ(r.localization["lesion"]["COVID19"].scored, 2);
  EXPECT_DOUBLE_EQ(r.localization["lesion"]["COVID19"].pointing, 0.5);
  EXPECT_NEAR(r.localization["lesion"]["COVID19"].energy, 0.6, 1e-12);
  EXPECT_DOUBLE_EQ(r.localization["lesion"]["all"].pointing, 2.0 / 3.0);
  EXPECT_NEAR(r.localization["lesion"]["all"].energy, 1.7 / 3, 1e-12);
  EXPECT_EQ(r.localization["lesion"].count("NORMAL"), 0u);
  ASSERT_EQ(r.shortcut_ranking.size(), 3u);
  EXPECT_EQ(r.shortcut_ranking[0], 1u);
  EXPECT_EQ(r.faithfulness.images, 3);
}

// The report `cxr report` reads back from a file is the one xai-eval wrote: through the file's text, to_json of
// what is read is what was written, and what the JSON holds in another form (class names, the ranking as
// dataset indices, NaN as null) comes back as the values it stood for.
TEST(XaiReport, JsonReadsBackAsTheSameReport) {
  SynthFixture fx;
  data::Dataset ds = data::open_dataset((fx.dir / "synth").string());
  data::Sample missing = ds.samples[0], unlabelled = ds.samples[1];
  missing.path = (fx.dir / "missing.png").string();
  unlabelled.label = -1;
  unlabelled.source.clear();
  ds.samples.push_back(missing);
  ds.samples.push_back(unlabelled);
  auto m = tiny_vgg();
  XaiOptions opt;
  opt.request.layers = {"relu4_2+relu5_2"};
  opt.faithfulness.steps = 4;
  opt.sanity_images = 2;
  const XaiReport r = evaluate_explanations(*m, ds, opt);
  ASSERT_EQ(r.failed, 1);
  ASSERT_TRUE(r.sanity.has_value());
  ASSERT_TRUE(r.markers_known);
  ASSERT_FALSE(r.localization.empty());
  const nlohmann::json j = to_json(r);
  const XaiReport back = xai_report_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(to_json(back).dump(), j.dump());
  EXPECT_EQ(back.method, CamMethod::GradCAM);
  EXPECT_EQ(back.layers, (std::vector<std::string>{"features.14", "features.19"}));  // torchvision's vgg11
  EXPECT_EQ(back.shortcut_ranking, r.shortcut_ranking);
  EXPECT_EQ(back.faithfulness_options.blur_sigma, 0.0f);  // the default, written as the sigma it stands for
  ASSERT_EQ(back.rows.size(), r.rows.size());
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const XaiImageRow &a = r.rows[i], &b = back.rows[i];
    EXPECT_EQ(b.label, a.label) << i;
    EXPECT_EQ(b.target, a.target) << i;
    EXPECT_EQ(b.shortcut.with_lungs, a.shortcut.with_lungs) << i;
    EXPECT_EQ(b.lesion.pointing.distance, a.lesion.pointing.distance) << i;  // infinite where not scored
    ASSERT_EQ(b.faithfulness.has_value(), a.faithfulness.has_value()) << i;
    if (a.faithfulness) {
      EXPECT_EQ(b.faithfulness->target, a.faithfulness->target) << i;
      EXPECT_EQ(b.faithfulness->deletion, a.faithfulness->deletion) << i;
    }
  }
  EXPECT_EQ(back.rows.back().label, -1);
  EXPECT_FALSE(back.rows[back.rows.size() - 2].error.empty());

  // Rows no model gives here: a flat map, a lesion the map has no peak on, shares that are NaN; a guided
  // report (no layers), a blur sigma of its own.
  std::vector<XaiImageRow> rows(3);
  rows[0].path = "flat.png";
  rows[0].label = rows[0].target = 1;
  rows[0].degenerate = true;
  rows[0].degenerate_reason = "constant map";
  rows[1].path = "nopeak.png";
  rows[1].label = rows[1].target = 0;
  rows[1].lesion.available = true;
  rows[1].lesion.pointing.scored = true;
  rows[1].lesion.pointing.distance = INFINITY;
  rows[1].lesion.energy = NAN;
  rows[1].shortcut.border = rows[1].shortcut.suspect = rows[1].shortcut.outside_lung = NAN;
  rows[2].path = "broken.png";
  rows[2].error = "broken.png: cannot decode";
  XaiOptions o;
  o.request.method = CamMethod::Guided;
  o.faithfulness.blur_sigma = 2.5f;
  XaiReport h = make_report(rows, {"A", "B"}, o);
  h.layer = "input";
  const nlohmann::json hj = to_json(h);
  const XaiReport hb = xai_report_from_json(nlohmann::json::parse(hj.dump()));
  EXPECT_EQ(to_json(hb).dump(), hj.dump());
  EXPECT_EQ(hb.method, CamMethod::Guided);
  EXPECT_TRUE(hb.layers.empty());
  EXPECT_EQ(hb.faithfulness_options.blur_sigma, 2.5f);
  EXPECT_EQ(hb.rows[0].degenerate_reason, "constant map");
  EXPECT_EQ(hb.rows[1].lesion.pointing.y, -1);
  EXPECT_EQ(hb.rows[1].lesion.pointing.distance, INFINITY);
  EXPECT_TRUE(std::isnan(hb.rows[1].lesion.energy));
  EXPECT_TRUE(std::isnan(hb.rows[1].shortcut.suspect));
  EXPECT_EQ(hb.rows[2].error, "broken.png: cannot decode");
  EXPECT_EQ(hb.shortcut_ranking, (std::vector<size_t>{1}));
}

TEST(XaiReport, MalformedJsonIsAnErrorNamingWhatAndWhere) {
  std::vector<XaiImageRow> rows(2);
  for (int i = 0; i < 2; ++i) {
    rows[static_cast<size_t>(i)].index = i;
    rows[static_cast<size_t>(i)].path = str("img", i, ".png");
    rows[static_cast<size_t>(i)].label = rows[static_cast<size_t>(i)].target = i;
  }
  const nlohmann::json good = to_json(make_report(rows, {"A", "B"}, {}));
  ASSERT_EQ(good["shortcut"]["ranking"].size(), 2u);
  auto error = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json b = good;
    edit(b);
    return error_of([&] { xai_report_from_json(b); });
  };
  EXPECT_EQ(error([](nlohmann::json& b) { b.erase("rows"); }),
            "not the JSON `cxr xai-eval --json` writes (no rows / faithfulness / shortcut)");
  EXPECT_EQ(error([](nlohmann::json& b) { b = nlohmann::json::array(); }),
            "not the JSON `cxr xai-eval --json` writes (no rows / faithfulness / shortcut)");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"] = "none"; }), "'rows' is a string, expected an array");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"][1]["label"] = 3; }),
            "'rows[1].label' is a number (3), expected a string");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"][0]["target"] = "C"; }),
            "'rows[0].target' is 'C', not one of the classes (A, B)");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"][0].erase("lesion"); }), "'rows[0].lesion' is missing");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"][1]["shortcut"]["flagged"] = 1; }),
            "'rows[1].shortcut.flagged' is a number (1), expected true or false");
  EXPECT_EQ(error([](nlohmann::json& b) { b["localization"]["lesion"]["all"] = {{"scored", -2}}; }),
            "'localization.lesion.all.scored' is -2, expected a whole number from 0 to 9223372036854775807");
  EXPECT_EQ(error([](nlohmann::json& b) { b["input_size"] = 1e300; }),
            "'input_size' is a number (1e+300), expected a whole number from 0 to 2147483647");
  EXPECT_EQ(error([](nlohmann::json& b) { b["rows"][0]["probability"] = 1e300; }),
            "'rows[0].probability' is 1e+300, out of a float's range");
  EXPECT_EQ(error([](nlohmann::json& b) { b["method"] = "occlusion"; }).rfind("'method': unknown explanation method", 0),
            0u);
  EXPECT_EQ(error([](nlohmann::json& b) { b["images"] = 3; }), "'images' is 3 but 'rows' holds 2");
  EXPECT_EQ(error([](nlohmann::json& b) { b["shortcut"]["ranking"][1] = b["shortcut"]["ranking"][0]; }),
            str("'shortcut.ranking[1]' (index ", good["shortcut"]["ranking"][0]["index"].get<int64_t>(),
                ", file '", good["shortcut"]["ranking"][0]["file"].get<std::string>(),
                "') is not one of the explained rows, or one listed before"));
  EXPECT_EQ(error([](nlohmann::json& b) { b["sanity"] = {{"passed", true}}; }), "'sanity.verdict' is missing");
}

TEST(XaiEvalCli, WritesTableAndJson) {
  SynthFixture fx;
  const std::string json = (fx.dir / "xai.json").string();
  ASSERT_EQ(fx.run("xai-eval --threads 1 --model " + fx.ckpt + " --data " + (fx.dir / "synth").string() +
                   " --layer relu4_2 --steps 4 --limit 4 --sanity --sanity-images 1 --json " + json),
            0)
      << fx.log();
  const std::string log = fx.log();
  EXPECT_NE(log.find("Faithfulness"), std::string::npos) << log;
  EXPECT_NE(log.find("Sanity check"), std::string::npos) << log;
  std::ifstream f(json);
  ASSERT_TRUE(f);
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["tool"], "cxr xai-eval");
  EXPECT_EQ(j["split"], "test");
  EXPECT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["faithfulness"]["steps"], 4);
  EXPECT_TRUE(j["localization"].contains("lung"));
  // Errors: a bad method or baseline is a usage error (exit 2, checked as the arguments are read), with a
  // message.
  EXPECT_EQ(fx.run("xai-eval --model " + fx.ckpt + " --data " + (fx.dir / "synth").string() + " --method occlusion"),
            2);
  EXPECT_NE(fx.log().find("unknown explanation method"), std::string::npos) << fx.log();
  EXPECT_EQ(
      fx.run("xai-eval --model " + fx.ckpt + " --data " + (fx.dir / "synth").string() + " --deletion-baseline noise"),
      2);
  EXPECT_NE(fx.log().find("unknown baseline"), std::string::npos) << fx.log();
}
