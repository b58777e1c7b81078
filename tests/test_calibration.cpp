// What a reader needs to judge a model's figures: ROC AUC as the Mann-Whitney statistic (against a naive pair
// count and hand examples), NORMAL-vs-PNEUMONIA AUC per source, calibration error and the reliability bins
// (hand-computed), temperature scaling (against a brute-force grid), the patient bootstrap's percentile
// intervals (against exact binomial quantiles, patients vs images, any thread count), and a temperature
// stored in a checkpoint's metadata with its tensors untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/threading.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "train/bootstrap.h"
#include "train/calibration.h"
#include "train/metrics.h"

using namespace cxr;

namespace {

// The definition, pair by pair: P(score of a positive > score of a negative), ties 1/2.
double naive_auc(const std::vector<float>& s, const std::vector<bool>& pos) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (pos[i] && !pos[j]) {
        pairs += 1;
        wins += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
      }
  return wins / pairs;
}

std::vector<float> softmax_d(const std::vector<double>& z, double t = 1) {
  double mx = z[0], s = 0;
  for (double v : z) mx = std::max(mx, v / t);
  std::vector<double> e(z.size());
  for (size_t k = 0; k < z.size(); ++k) s += e[k] = std::exp(z[k] / t - mx);
  std::vector<float> p(z.size());
  for (size_t k = 0; k < z.size(); ++k) p[k] = static_cast<float>(e[k] / s);
  return p;
}

// Over-confident 3-class logits: the right class usually leads, by a margin too large for its accuracy.
void overconfident(int n, uint64_t seed, std::vector<std::vector<double>>& logits, std::vector<int>& targets) {
  Rng rng(seed);
  for (int i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng.below(3));
    std::vector<double> z(3);
    for (int k = 0; k < 3; ++k) z[k] = 4.0 * rng.normal();
    z[y] += 5.0;
    logits.push_back(z);
    targets.push_back(y);
  }
}

// P(X <= k) for X ~ Binomial(n, 1/2), and its q-quantile: the smallest k with P(X <= k) >= q.
int binomial_half_quantile(int n, double q) {
  double cdf = 0;
  for (int k = 0; k <= n; ++k) {
    double c = 1;  // C(n, k) / 2^n, built up in doubles
    for (int i = 0; i < k; ++i) c = c * (n - i) / (i + 1);
    cdf += c / std::pow(2.0, n);
    if (cdf >= q) return k;
  }
  return n;
}

}  // namespace

// --- ROC AUC ---------------------------------------------------------------------------------------------

TEST(Auc, HandExamplesTiesAndUndefined) {
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.4f, 0.35f, 0.8f}, {false, false, true, true}), 0.75);
  // One tie across the classes: 0.5 (pos) vs 0.5 (neg) counts 1/2; 0.5 > 0.2, 0.9 > both: 3.5 of 4 pairs.
  EXPECT_DOUBLE_EQ(roc_auc({0.2f, 0.5f, 0.5f, 0.9f}, {false, false, true, true}), 0.875);
  EXPECT_DOUBLE_EQ(roc_auc({0.5f, 0.5f, 0.5f, 0.5f}, {false, true, false, true}), 0.5);  // all equal
  EXPECT_DOUBLE_EQ(roc_auc({0.9f, 0.8f, 0.1f}, {false, false, true}), 0.0);
  EXPECT_TRUE(std::isnan(roc_auc({0.1f, 0.2f}, {true, true})));    // no negative
  EXPECT_TRUE(std::isnan(roc_auc({0.1f, 0.2f}, {false, false})));  // no positive
}

TEST(Auc, MatchesNaivePairCountWithManyTies) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed);
    std::vector<float> s(300);
    std::vector<bool> pos(300);
    for (size_t i = 0; i < s.size(); ++i) {
      pos[i] = rng.bernoulli(0.4f);
      // Six score levels, shifted up for positives: many ties within and across the classes.
      s[i] = static_cast<float>(rng.below(6) + (pos[i] ? rng.below(3) : 0)) / 8.0f;
    }
    EXPECT_NEAR(roc_auc(s, pos), naive_auc(s, pos), 1e-12) << "seed " << seed;
  }
}

TEST(Auc, NormalVsPneumoniaWithinEachSource) {
  const std::vector<std::string> classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  // nih: NORMAL p(PN) 0.1 and 0.6, PNEUMONIA 0.7 and 0.5 -> 3 of 4 pairs. Its COVID19 image, with the highest
  // p(PNEUMONIA) of all, must be left out. kermany holds NORMAL only: not defined.
  std::vector<std::vector<float>> p = {{0.1f, 0.8f, 0.1f}, {0.1f, 0.3f, 0.6f}, {0.1f, 0.2f, 0.7f},
                                       {0.3f, 0.2f, 0.5f}, {0.0f, 0.05f, 0.95f}, {0.2f, 0.7f, 0.1f}};
  std::vector<int> t = {1, 1, 2, 2, 0, 1};
  std::vector<std::string> g = {"nih", "nih", "nih", "nih", "nih", "kermany"};
  const EvalReport r = evaluate(p, t, classes, g);
  ASSERT_EQ(r.group_auc.size(), 2u);
  EXPECT_DOUBLE_EQ(r.group_auc.at("nih"), 0.75);
  EXPECT_TRUE(std::isnan(r.group_auc.at("kermany")));
  const std::string text = format_report(r);
  EXPECT_NE(text.find("kermany                  not defined"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  const nlohmann::json j = to_json(r);
  EXPECT_DOUBLE_EQ(j["per_source"]["nih"]["normal_vs_pneumonia_auc"].get<double>(), 0.75);
  EXPECT_TRUE(j["per_source"]["kermany"]["normal_vs_pneumonia_auc"].is_null());
  // Classes without NORMAL and PNEUMONIA: no per-source AUC at all.
  EXPECT_TRUE(evaluate(p, t, {"A", "B", "C"}, g).group_auc.empty());
}

// --- calibration -----------------------------------------------------------------------------------------

TEST(Calibration, HandComputedEceAndBins) {
  // conf, right?: 0.90 yes and 0.88 no share bin 13 (13/15, 14/15]: mean conf 0.89, accuracy 0.5, gap 0.39;
  // 0.95 no in bin 14 (gap 0.95); 0.70 yes in bin 10 (gap 0.30); 0.62 no in bin 9 (gap 0.62).
  // ECE = (2 * 0.39 + 0.95 + 0.30 + 0.62) / 5 = 0.53, MCE = 0.95.
  std::vector<std::vector<float>> p = {{0.9f, 0.1f}, {0.88f, 0.12f}, {0.95f, 0.05f}, {0.3f, 0.7f}, {0.62f, 0.38f}};
  std::vector<int> t = {0, 1, 1, 1, 1};
  const Calibration c = calibration(p, t);
  ASSERT_EQ(c.bins, 15);
  ASSERT_EQ(c.reliability.size(), 15u);
  EXPECT_NEAR(c.ece, 0.53, 1e-6);
  EXPECT_NEAR(c.mce, 0.95, 1e-6);
  EXPECT_EQ(c.reliability[13].count, 2);
  EXPECT_NEAR(c.reliability[13].confidence, 0.89, 1e-6);
  EXPECT_DOUBLE_EQ(c.reliability[13].accuracy, 0.5);
  EXPECT_EQ(c.reliability[14].count, 1);
  EXPECT_EQ(c.reliability[10].count, 1);
  EXPECT_EQ(c.reliability[9].count, 1);
  EXPECT_NEAR(c.reliability[9].lo, 9.0 / 15, 1e-15);
  EXPECT_NEAR(c.reliability[9].hi, 10.0 / 15, 1e-15);
  int total = 0;
  for (const auto& b : c.reliability) total += b.count;
  EXPECT_EQ(total, 5);
  // Confidence exactly 1 lands in the last bin; a perfectly calibrated set has ECE 0.
  const Calibration one = calibration({{1.0f, 0.0f}, {0.0f, 1.0f}}, {0, 1});
  EXPECT_EQ(one.reliability[14].count, 2);
  EXPECT_DOUBLE_EQ(one.ece, 0.0);
}

TEST(Temperature, ScalesLogitsAndKeepsArgmax) {
  const std::vector<double> z = {2.0, -1.0, 0.5};
  const std::vector<float> p = softmax_d(z);
  for (double t : {0.5, 1.0, 2.5}) {
    const std::vector<float> want = softmax_d(z, t);
    const std::vector<float> got = apply_temperature({p}, t)[0];
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(got[k], want[k], 1e-6) << "T " << t << " class " << k;
  }
  // An underflowed probability (0 in float) stays finite and last.
  const std::vector<float> hot = apply_temperature({{1.0f, 0.0f, 0.0f}}, 50)[0];
  EXPECT_GT(hot[0], hot[1]);
  EXPECT_TRUE(std::isfinite(hot[1]));
  EXPECT_THROW(apply_temperature({p}, 0), Error);
  EXPECT_THROW(apply_temperature({p}, -1), Error);
  EXPECT_THROW(apply_temperature({p}, NAN), Error);
}

TEST(Temperature, FitMatchesBruteForceGrid) {
  std::vector<std::vector<double>> z;
  std::vector<int> t;
  overconfident(400, 7, z, t);
  std::vector<std::vector<float>> p;
  for (const auto& row : z) p.push_back(softmax_d(row));
  const TemperatureFit fit = fit_temperature(p, t);
  // The grid: 4001 temperatures, log-spaced over the search range.
  double best_t = 0, best = std::numeric_limits<double>::infinity();
  const double a = std::log(kMinTemperature), b = std::log(kMaxTemperature);
  for (int i = 0; i <= 4000; ++i) {
    const double tt = std::exp(a + (b - a) * i / 4000);
    if (const double v = temperature_nll(p, t, tt); v < best) best = v, best_t = tt;
  }
  EXPECT_GT(best_t, 1.2);  // over-confident: the fit must flatten
  EXPECT_FALSE(fit.at_bound);
  EXPECT_NEAR(std::log(fit.temperature), std::log(best_t), (b - a) / 4000);
  EXPECT_LE(fit.nll_after, best + 1e-12);
  EXPECT_LT(fit.nll_after, fit.nll_before);
  EXPECT_NEAR(fit.nll_before, temperature_nll(p, t, 1.0), 1e-12);
  // Scaling must lower the calibration error of such a set.
  EXPECT_LT(calibration(apply_temperature(p, fit.temperature), t).ece, calibration(p, t).ece);
}

TEST(Temperature, EveryImageRightFitsAtTheLowerBound) {
  const TemperatureFit fit = fit_temperature({{0.7f, 0.3f}, {0.2f, 0.8f}}, {0, 1});
  EXPECT_TRUE(fit.at_bound);
  EXPECT_NEAR(fit.temperature, kMinTemperature, 1e-9);
  EXPECT_THROW(fit_temperature({}, {}), Error);
}

// --- bootstrap -------------------------------------------------------------------------------------------

TEST(Bootstrap, QuantileIsNumpysLinear) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0), 4);
  EXPECT_DOUBLE_EQ(quantile({10, 20, 30, 40, 50}, 0.1), 14);  // h = 0.4: 10 + 0.4 * 10
  EXPECT_TRUE(std::isnan(quantile({}, 0.5)));
}

// 10 patients of 4 images each, 5 patients all right and 5 all wrong. Resampling patients, accuracy is
// Binomial(10, 1/2) / 10; resampling images (no ids), Binomial(40, 1/2) / 40. The percentile interval of many
// resamples converges on those distributions' 2.5% and 97.5% quantiles, computed here from the binomial pmf.
TEST(Bootstrap, PatientsMoveTogetherAndMatchTheBinomialQuantiles) {
  std::vector<std::vector<float>> p;
  std::vector<int> t;
  std::vector<std::string> patients;
  for (int pt = 0; pt < 10; ++pt)
    for (int i = 0; i < 4; ++i) {
      p.push_back({0.8f, 0.2f});  // always class 0
      t.push_back(pt < 5 ? 0 : 1);
      patients.push_back(std::to_string(pt));
    }
  const BootstrapOptions o{4000, 11, 0.95};
  const BootstrapInfo by_patient = bootstrap_intervals(p, t, {"A", "B"}, {}, patients, o);
  EXPECT_TRUE(by_patient.by_patient);
  EXPECT_EQ(by_patient.units, 10);
  const Interval a = by_patient.intervals.at("accuracy");
  EXPECT_EQ(a.defined, 4000);
  EXPECT_NEAR(a.lo, binomial_half_quantile(10, 0.025) / 10.0, 1e-12);  // 0.2
  EXPECT_NEAR(a.hi, binomial_half_quantile(10, 0.975) / 10.0, 1e-12);  // 0.8

  const BootstrapInfo by_image = bootstrap_intervals(p, t, {"A", "B"}, {}, {}, o);
  EXPECT_FALSE(by_image.by_patient);
  EXPECT_EQ(by_image.units, 40);
  const Interval b = by_image.intervals.at("accuracy");
  // Monte Carlo error of 4000 resamples: within one step (1/40) of the exact quantiles 0.35 and 0.65.
  EXPECT_NEAR(b.lo, binomial_half_quantile(40, 0.025) / 40.0, 1.0 / 40 + 1e-12);
  EXPECT_NEAR(b.hi, binomial_half_quantile(40, 0.975) / 40.0, 1.0 / 40 + 1e-12);
  EXPECT_GT(a.hi - a.lo, 1.6 * (b.hi - b.lo));  // 0.6 vs about 0.3
}

TEST(Bootstrap, SameForAnyThreadCountAndSeeded) {
  std::vector<std::vector<double>> z;
  std::vector<int> t;
  overconfident(120, 3, z, t);
  std::vector<std::vector<float>> p;
  std::vector<std::string> groups, patients;
  for (size_t i = 0; i < z.size(); ++i) {
    p.push_back(softmax_d(z[i]));
    groups.push_back(i % 3 ? "nih" : "kermany");
    patients.push_back(std::to_string(i / 2));
  }
  const std::vector<std::string> classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const BootstrapOptions o{200, 5, 0.95};
  const int threads = num_threads();
  set_num_threads(1);
  const BootstrapInfo one = bootstrap_intervals(p, t, classes, groups, patients, o);
  set_num_threads(3);
  const BootstrapInfo three = bootstrap_intervals(p, t, classes, groups, patients, o);
  set_num_threads(threads);
  ASSERT_EQ(one.intervals.size(), three.intervals.size());
  EXPECT_TRUE(one.intervals.count("source_auc/nih"));
  EXPECT_TRUE(one.intervals.count("ece"));
  for (const auto& [k, v] : one.intervals) {
    EXPECT_EQ(v.lo, three.intervals.at(k).lo) << k;
    EXPECT_EQ(v.hi, three.intervals.at(k).hi) << k;
    EXPECT_EQ(v.defined, three.intervals.at(k).defined) << k;
  }
  // Every point figure sits inside its interval here (n = 120, nothing degenerate).
  const EvalReport r = evaluate(p, t, classes, groups);
  for (const auto& [k, v] : headline_figures(r)) {
    const Interval& iv = one.intervals.at(k);
    EXPECT_LE(iv.lo, v + 1e-12) << k;
    EXPECT_GE(iv.hi, v - 1e-12) << k;
  }
  const BootstrapInfo other = bootstrap_intervals(p, t, classes, groups, patients, {200, 6, 0.95});
  EXPECT_NE(other.intervals.at("accuracy").lo + other.intervals.at("accuracy").hi,
            one.intervals.at("accuracy").lo + one.intervals.at("accuracy").hi);
  EXPECT_THROW(bootstrap_intervals(p, t, classes, groups, patients, {0, 5, 0.95}), Error);
}

// --- the temperature in a checkpoint ----------------------------------------------------------------------

TEST(CheckpointTemperature, StoredInMetadataWithTensorsUntouched) {
  const std::string dir = (std::filesystem::temp_directory_path() / "cxr_test_calibration").string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/m.safetensors";
  io::CheckpointMeta meta;
  meta.found = true;
  meta.source = "test";
  std::vector<io::NamedTensor> tensors(2);
  tensors[0].name = "a.weight";
  tensors[0].value = Tensor::zeros({2, 3});
  for (int i = 0; i < 6; ++i) tensors[0].value[i] = 0.1f * static_cast<float>(i) - 0.2f;
  tensors[1].name = "bn.num_batches_tracked";
  tensors[1].dtype = io::DType::I64;
  tensors[1].ints = {12345678901LL};
  tensors[1].value = Tensor::full({}, 12345678901.0f);
  io::save_safetensors(path, tensors, {{"cxr", io::meta_to_json(meta).dump()}, {"format", "pt"}});
  const io::SafeTensorsHeader before = io::read_safetensors_header(path);
  const std::string before_bytes = read_file(path);
  EXPECT_EQ(io::read_checkpoint_meta(path).temperature, 0);

  io::set_checkpoint_temperature(path, 1.6180339887498949);
  EXPECT_EQ(io::read_checkpoint_meta(path).temperature, 1.6180339887498949);  // exactly: %.17g in JSON
  const io::SafeTensors after = io::load_safetensors(path);
  EXPECT_EQ(after.metadata.at("temperature"), "1.6180339887498949");
  EXPECT_EQ(after.metadata.at("format"), "pt");
  ASSERT_EQ(after.tensors.size(), 2u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(after.find("a.weight")->value[i], tensors[0].value[i]);
  EXPECT_EQ(after.find("bn.num_batches_tracked")->ints, std::vector<int64_t>{12345678901LL});
  // The data buffer, byte for byte, and the same entries.
  const io::SafeTensorsHeader h = io::read_safetensors_header(path);
  ASSERT_EQ(h.entries.size(), before.entries.size());
  for (size_t i = 0; i < h.entries.size(); ++i) {
    EXPECT_EQ(h.entries[i].name, before.entries[i].name);
    EXPECT_EQ(h.entries[i].dtype, before.entries[i].dtype);
    EXPECT_EQ(h.entries[i].begin, before.entries[i].begin);
    EXPECT_EQ(h.entries[i].end, before.entries[i].end);
  }
  EXPECT_EQ(read_file(path).substr(h.data_start), before_bytes.substr(before.data_start));
  // Another fit replaces it; bad values and files without cxr metadata are refused, naming the file.
  io::set_checkpoint_temperature(path, 0.75);
  EXPECT_EQ(io::read_checkpoint_meta(path).temperature, 0.75);
  EXPECT_THROW(io::set_checkpoint_temperature(path, 0), Error);
  EXPECT_THROW(io::set_checkpoint_temperature(path, -2), Error);
  const std::string bare = dir + "/bare.safetensors";
  io::save_safetensors(bare, tensors);
  try {
    io::set_checkpoint_temperature(bare, 1.5);
    ADD_FAILURE() << "no error for a file without cxr metadata";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bare), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}
