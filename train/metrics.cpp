#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "core/argmax.h"
#include "core/error.h"

namespace cxr {

RocCurve roc_curve(const std::vector<float>& scores, const std::vector<bool>& positive) {
  // Sort by descending score; a group of tied scores moves the curve diagonally in one step.
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  double P = std::count(positive.begin(), positive.end(), true), N = positive.size() - P;
  RocCurve c;
  c.fpr.push_back(0);
  c.tpr.push_back(0);
  double tp = 0, fp = 0;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j < idx.size() && scores[idx[j]] == scores[idx[i]]) {
      (positive[idx[j]] ? tp : fp) += 1;
      ++j;
    }
    c.fpr.push_back(N > 0 ? fp / N : 0);
    c.tpr.push_back(P > 0 ? tp / P : 0);
    i = j;
  }
  return c;
}

double roc_auc(const std::vector<float>& scores, const std::vector<bool>& positive) {
  CXR_CHECK(scores.size() == positive.size(), "roc_auc: ", scores.size(), " scores for ", positive.size(), " labels");
  const size_t P = std::count(positive.begin(), positive.end(), true), N = positive.size() - P;
  if (P == 0 || N == 0) return std::numeric_limits<double>::quiet_NaN();
  // Mann-Whitney in one pass over the scores in ascending order: each group of tied scores adds, per positive
  // in it, the negatives below the group plus half of the negatives in it. Counts stay integers (in halves)
  // until the one division, so the result is exact up to that division's rounding.
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  uint64_t neg_below = 0, twice_wins = 0;
  for (size_t i = 0; i < idx.size();) {
    uint64_t pos = 0, neg = 0;
    size_t j = i;
    for (; j < idx.size() && scores[idx[j]] == scores[idx[i]]; ++j) (positive[idx[j]] ? pos : neg) += 1;
    twice_wins += pos * (2 * neg_below + neg);
    neg_below += neg;
    i = j;
  }
  return static_cast<double>(twice_wins) / (2.0 * static_cast<double>(P) * static_cast<double>(N));
}

std::pair<int, int> normal_pneumonia(const std::vector<std::string>& class_names) {
  const auto at = [&](const char* name) {
    const auto it = std::find(class_names.begin(), class_names.end(), name);
    return it == class_names.end() ? -1 : static_cast<int>(it - class_names.begin());
  };
  const int n = at("NORMAL"), p = at("PNEUMONIA");
  return n < 0 || p < 0 ? std::pair{-1, -1} : std::pair{n, p};
}

EvalReport evaluate(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                    const std::vector<std::string>& class_names, const std::vector<std::string>& groups) {
  const int K = static_cast<int>(class_names.size());
  CXR_CHECK(probs.size() == targets.size(), "evaluate: ", probs.size(), " predictions for ", targets.size(), " targets");
  CXR_CHECK(groups.empty() || groups.size() == targets.size(), "evaluate: ", groups.size(), " groups for ",
            targets.size(), " targets");
  EvalReport r;
  r.count = static_cast<int>(targets.size());
  r.confusion.assign(K, std::vector<int>(K, 0));
  int correct = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    CXR_CHECK(static_cast<int>(probs[i].size()) == K, "evaluate: row ", i, " has ", probs[i].size(), " scores for ", K,
              " classes");
    CXR_CHECK(targets[i] >= 0 && targets[i] < K, "evaluate: target ", targets[i], " out of range");
    int pred = argmax(probs[i]);
    r.confusion[targets[i]][pred]++;
    bool ok = pred == targets[i];
    correct += ok;
    if (!groups.empty()) {
      auto& g = r.per_group[groups[i]];
      g.first += ok;
      g.second += 1;
      auto& gc = r.group_confusion[groups[i]];
      if (gc.empty()) gc.assign(K, std::vector<int>(K, 0));
      gc[targets[i]][pred]++;
    }
  }
  r.accuracy = r.count ? static_cast<double>(correct) / r.count : 0;
  double f1_sum = 0;
  int present = 0;  // classes in the targets or the predictions
  for (int k = 0; k < K; ++k) {
    ClassReport c;
    c.name = class_names[k];
    int tp = r.confusion[k][k], col = 0, row = 0;
    for (int j = 0; j < K; ++j) {
      col += r.confusion[j][k];
      row += r.confusion[k][j];
    }
    c.support = row;
    c.precision = col ? static_cast<double>(tp) / col : 0;  // sklearn's zero_division=0
    c.recall = row ? static_cast<double>(tp) / row : 0;
    c.f1 = (c.precision + c.recall) > 0 ? 2 * c.precision * c.recall / (c.precision + c.recall) : 0;
    // scikit-learn's macro average runs over the labels present in the targets or the predictions: a
    // class the data does not hold and the model never predicts has no F1 to average (a 3-class model
    // scored on a NORMAL / PNEUMONIA set is not penalised a third for the absent COVID19).
    if (row > 0 || col > 0) {
      f1_sum += c.f1;
      ++present;
    }
    std::vector<float> s(targets.size());
    std::vector<bool> pos(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) {
      s[i] = probs[i][k];
      pos[i] = targets[i] == k;
    }
    c.roc_auc = roc_auc(s, pos);
    r.roc.push_back(roc_curve(s, pos));
    r.classes.push_back(c);
  }
  r.macro_f1 = present ? f1_sum / present : 0;
  // NORMAL vs PNEUMONIA within each group: p(PNEUMONIA) over the group's images of those two classes.
  if (const auto [neg, pos] = normal_pneumonia(class_names); neg >= 0 && !groups.empty()) {
    std::map<std::string, std::pair<std::vector<float>, std::vector<bool>>> by_group;
    for (const auto& [g, ct] : r.per_group) by_group[g];  // every group gets an entry, defined or not
    for (size_t i = 0; i < targets.size(); ++i)
      if (targets[i] == neg || targets[i] == pos) {
        auto& [s, is_pos] = by_group[groups[i]];
        s.push_back(probs[i][pos]);
        is_pos.push_back(targets[i] == pos);
      }
    for (const auto& [g, sp] : by_group) r.group_auc[g] = roc_auc(sp.first, sp.second);
  }
  r.calibration = calibration(probs, targets);
  return r;
}

std::vector<GroupClassRow> group_class_rows(const EvalReport& r, const std::string& group) {
  std::vector<GroupClassRow> rows;
  const auto it = r.group_confusion.find(group);
  if (it == r.group_confusion.end()) return rows;
  const size_t K = r.classes.size();
  for (size_t t = 0; t < it->second.size() && t < K; ++t) {
    GroupClassRow row;
    row.cls = static_cast<int>(t);
    row.predicted.assign(K, 0);
    for (size_t p = 0; p < it->second[t].size() && p < K; ++p) row.total += row.predicted[p] = it->second[t][p];
    row.correct = row.predicted[t];
    if (row.total > 0) rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, double> headline_figures(const EvalReport& r) {
  std::map<std::string, double> f;
  f["accuracy"] = r.accuracy;
  f["macro_f1"] = r.macro_f1;
  for (const auto& c : r.classes) {
    f["precision/" + c.name] = c.precision;
    f["recall/" + c.name] = c.recall;
    f["f1/" + c.name] = c.f1;
    f["roc_auc/" + c.name] = c.roc_auc;
  }
  for (const auto& [g, ct] : r.per_group)
    f["source_accuracy/" + g] = ct.second ? static_cast<double>(ct.first) / ct.second : NAN;
  for (const auto& [g, auc] : r.group_auc) f["source_auc/" + g] = auc;
  f["ece"] = r.calibration.ece;
  f["mce"] = r.calibration.mce;
  return f;
}

// "0.8123", or "n/a" where a figure is not defined (an AUC without both classes).
static std::string fixed4(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", v);
  return std::isfinite(v) ? b : "n/a";
}

std::string format_report(const EvalReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %9s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "roc_auc",
                "support");
  out += line;
  for (const auto& c : r.classes) {
    std::snprintf(line, sizeof line, "%-14s %9.4f %9.4f %9.4f %9s %9d\n", c.name.c_str(), c.precision, c.recall,
                  c.f1, fixed4(c.roc_auc).c_str(), c.support);
    out += line;
  }
  std::snprintf(line, sizeof line, "\naccuracy %.4f   macro-F1 %.4f   (%d images)\n", r.accuracy, r.macro_f1, r.count);
  out += line;
  out += "\nconfusion matrix (rows: true, columns: predicted)\n";
  std::snprintf(line, sizeof line, "%-14s", "");
  out += line;
  for (const auto& c : r.classes) {
    std::snprintf(line, sizeof line, " %10.10s", c.name.c_str());
    out += line;
  }
  out += "\n";
  for (size_t i = 0; i < r.classes.size(); ++i) {
    std::snprintf(line, sizeof line, "%-14s", r.classes[i].name.c_str());
    out += line;
    for (int v : r.confusion[i]) {
      std::snprintf(line, sizeof line, " %10d", v);
      out += line;
    }
    out += "\n";
  }
  if (!r.per_group.empty()) {
    out += "\naccuracy per source, and per true class within it (-> what its images were predicted as)\n";
    for (const auto& [g, ct] : r.per_group) {
      std::snprintf(line, sizeof line, "  %-24s %7.4f  (%d/%d)\n", g.c_str(),
                    ct.second ? static_cast<double>(ct.first) / ct.second : 0.0, ct.first, ct.second);
      out += line;
      for (const GroupClassRow& row : group_class_rows(r, g)) {
        std::snprintf(line, sizeof line, "    %-22s %7.4f  (%d/%d)  ->", r.classes[row.cls].name.c_str(),
                      static_cast<double>(row.correct) / row.total, row.correct, row.total);
        out += line;
        for (size_t p = 0; p < row.predicted.size(); ++p)
          out += str(p ? ", " : " ", r.classes[p].name, " ", row.predicted[p]);
        out += "\n";
      }
    }
  }
  if (!r.group_auc.empty()) {
    out += "\nROC AUC NORMAL vs PNEUMONIA per source (p(PNEUMONIA) over its NORMAL and PNEUMONIA images)\n";
    for (const auto& [g, auc] : r.group_auc) {
      std::snprintf(line, sizeof line, "  %-24s %7s\n", g.c_str(),
                    std::isfinite(auc) ? fixed4(auc).c_str() : "not defined (the source lacks one of the two)");
      out += line;
    }
  }
  std::snprintf(line, sizeof line, "\ncalibration (top-label, %d equal-width bins): ECE %.4f   MCE %.4f\n",
                r.calibration.bins, r.calibration.ece, r.calibration.mce);
  out += line;
  if (r.temperature > 0) out += str("probabilities scaled by temperature T = ", fixed4(r.temperature), " (",
                                    r.temperature_from, "); argmax, accuracy and F1 unchanged\n");
  const BootstrapInfo& b = r.bootstrap;
  if (b.resamples > 0) {
    std::snprintf(line, sizeof line, "\n%g%% bootstrap percentile intervals (%d resamples of %d %s, seed %llu)\n",
                  100 * b.level, b.resamples, b.units, b.by_patient ? "patients" : "images (no patient ids)",
                  static_cast<unsigned long long>(b.seed));
    out += line;
    const std::map<std::string, double> fig = headline_figures(r);
    for (const auto& [key, iv] : b.intervals) {
      const auto it = fig.find(key);
      const double v = it == fig.end() ? NAN : it->second;
      if (iv.defined == 0) {
        std::snprintf(line, sizeof line, "  %-32s %7s  not defined in any resample\n", key.c_str(), fixed4(v).c_str());
      } else {
        std::snprintf(line, sizeof line, "  %-32s %7s  [%.4f, %.4f]%s\n", key.c_str(), fixed4(v).c_str(), iv.lo, iv.hi,
                      iv.defined < b.resamples ? str("  (defined in ", iv.defined, " resamples)").c_str() : "");
      }
      out += line;
    }
  }
  return out;
}

static nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json to_json(const EvalReport& r) {
  nlohmann::json j;
  j["count"] = r.count;
  j["accuracy"] = r.accuracy;
  j["macro_f1"] = r.macro_f1;
  j["loss"] = num(r.loss);
  j["confusion"] = r.confusion;
  for (size_t k = 0; k < r.classes.size(); ++k) {
    const auto& c = r.classes[k];
    j["classes"].push_back({{"name", c.name}, {"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                            {"roc_auc", num(c.roc_auc)}, {"support", c.support},
                            {"roc", {{"fpr", r.roc[k].fpr}, {"tpr", r.roc[k].tpr}}}});
  }
  for (const auto& [g, ct] : r.per_group) {
    j["per_source"][g] = {{"correct", ct.first}, {"total", ct.second},
                          {"accuracy", ct.second ? static_cast<double>(ct.first) / ct.second : 0.0}};
    if (auto it = r.group_confusion.find(g); it != r.group_confusion.end()) j["per_source"][g]["confusion"] = it->second;
    if (auto it = r.group_auc.find(g); it != r.group_auc.end()) j["per_source"][g]["normal_vs_pneumonia_auc"] = num(it->second);
  }
  const Calibration& c = r.calibration;
  nlohmann::json bins = nlohmann::json::array();
  for (const ReliabilityBin& b : c.reliability)
    bins.push_back({{"lo", b.lo}, {"hi", b.hi}, {"count", b.count}, {"confidence", b.confidence}, {"accuracy", b.accuracy}});
  j["calibration"] = {{"bins", c.bins}, {"kind", "top-label, equal-width bins"}, {"ece", c.ece}, {"mce", c.mce},
                      {"reliability", bins}};
  j["temperature"] = r.temperature > 0 ? nlohmann::json(r.temperature) : nlohmann::json(nullptr);
  if (r.temperature > 0) j["temperature_from"] = r.temperature_from;
  if (r.bootstrap.resamples > 0) {
    const BootstrapInfo& b = r.bootstrap;
    nlohmann::json iv = nlohmann::json::object();
    for (const auto& [k, v] : b.intervals)
      iv[k] = {{"lo", v.defined ? num(v.lo) : nullptr}, {"hi", v.defined ? num(v.hi) : nullptr}, {"defined", v.defined}};
    j["ci"] = {{"method", "percentile bootstrap"}, {"resamples", b.resamples}, {"seed", b.seed}, {"level", b.level},
               {"unit", b.by_patient ? "patient" : "image"}, {"units", b.units}, {"intervals", iv}};
  }
  return j;
}

}  // namespace cxr
