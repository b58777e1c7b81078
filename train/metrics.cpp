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
  size_t P = std::count(positive.begin(), positive.end(), true);
  if (P == 0 || P == positive.size()) return std::numeric_limits<double>::quiet_NaN();
  RocCurve c = roc_curve(scores, positive);
  double auc = 0;
  for (size_t i = 1; i < c.fpr.size(); ++i) auc += (c.fpr[i] - c.fpr[i - 1]) * (c.tpr[i] + c.tpr[i - 1]) / 2;
  return auc;
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

std::string format_report(const EvalReport& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %9s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "roc_auc",
                "support");
  out += line;
  for (const auto& c : r.classes) {
    std::snprintf(line, sizeof line, "%-14s %9.4f %9.4f %9.4f %9.4f %9d\n", c.name.c_str(), c.precision, c.recall,
                  c.f1, c.roc_auc, c.support);
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
  }
  return j;
}

}  // namespace cxr
