// Classification metrics, as scikit-learn defines them: accuracy, per-class precision / recall / F1 /
// support, macro-F1, confusion matrix, one-vs-rest ROC AUC (with ties handled by the trapezoid rule, i.e.
// the Mann-Whitney statistic), the ROC curve points for plots, and accuracy and confusion per group (e.g.
// per `source` column of a manifest: shortcuts hide there), NORMAL-vs-PNEUMONIA ROC AUC within each source,
// calibration (train/calibration.h), and the bootstrap confidence intervals train/bootstrap.h adds.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/calibration.h"

namespace cxr {

struct ClassReport {
  std::string name;
  double precision = 0, recall = 0, f1 = 0, roc_auc = 0;  // roc_auc is NaN when a class has no positive or no negative
  int support = 0;
};

struct RocCurve {
  std::vector<double> fpr, tpr;  // from (0,0) to (1,1)
};

// A percentile bootstrap interval of one figure (train/bootstrap.h). `defined`: the resamples in which the
// figure was defined (an AUC needs both classes in the resample), of which lo and hi are the quantiles.
struct Interval {
  double lo = 0, hi = 0;
  int defined = 0;
};

struct BootstrapInfo {
  int resamples = 0;               // 0: no intervals computed
  uint64_t seed = 0;
  double level = 0.95;
  bool by_patient = false;         // resampled patients (false: images, the data having no patient ids)
  int units = 0;                   // patients (or images) resampled
  // figure -> interval. Keys: "accuracy", "macro_f1", "precision/<class>", "recall/<class>", "f1/<class>",
  // "roc_auc/<class>", "source_accuracy/<source>", "source_auc/<source>", "ece", "mce".
  std::map<std::string, Interval> intervals;
};

struct EvalReport {
  int count = 0;
  double accuracy = 0, loss = 0;
  double macro_f1 = 0;  // mean F1 over the classes present in the targets or the predictions (scikit-learn's)
  std::vector<std::vector<int>> confusion;  // [true][predicted]
  std::vector<ClassReport> classes;
  std::vector<RocCurve> roc;                // one-vs-rest, per class
  std::map<std::string, std::pair<int, int>> per_group;  // group -> (correct, total)
  // group -> [true][predicted], as `confusion`: which class each source's images were taken for (a source
  // whose NORMAL images all come out COVID19 tells more than its accuracy does)
  std::map<std::string, std::vector<std::vector<int>>> group_confusion;
  // NORMAL vs PNEUMONIA within each group, when the classes include both: the ROC AUC of p(PNEUMONIA) over
  // the group's images labelled NORMAL or PNEUMONIA (PNEUMONIA positive). NaN: not defined (the group lacks
  // one of the two). A source shortcut cannot help here, as both classes come from the same source.
  std::map<std::string, double> group_auc;
  Calibration calibration;         // top-label, kCalibrationBins bins
  double temperature = 0;          // the temperature applied to the probabilities scored (0: none)
  std::string temperature_from;    // where it came from: "checkpoint", "--temperature"; "" when none
  BootstrapInfo bootstrap;
};

// probs: [n][K] class probabilities (rows need not be normalised for AUC; argmax is the prediction).
// groups: empty, or one group name per sample.
EvalReport evaluate(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                    const std::vector<std::string>& class_names, const std::vector<std::string>& groups = {});

// One-vs-rest ROC AUC of scores for the positives (labels true): the Mann-Whitney statistic, the share of
// (positive, negative) pairs in which the positive scores higher, ties counted 1/2; NaN without both kinds.
double roc_auc(const std::vector<float>& scores, const std::vector<bool>& positive);
RocCurve roc_curve(const std::vector<float>& scores, const std::vector<bool>& positive);

// The rows under one group (source) of a report: one per true class the group holds, with how many of its
// images were right and what they were predicted as (counts per class). Empty when the report has no
// confusion for that group (an eval JSON written before it was recorded).
struct GroupClassRow {
  int cls = 0;                  // index into EvalReport::classes
  int correct = 0, total = 0;
  std::vector<int> predicted;   // [K] how many were predicted as each class
};
std::vector<GroupClassRow> group_class_rows(const EvalReport& r, const std::string& group);

// The figures a report headlines, by the keys of BootstrapInfo::intervals (NaN where not defined): what
// train/bootstrap.h puts an interval on, and what format_report lists beside each interval.
std::map<std::string, double> headline_figures(const EvalReport& r);

// Index of NORMAL and PNEUMONIA among class_names, or -1 each when either is missing.
std::pair<int, int> normal_pneumonia(const std::vector<std::string>& class_names);

std::string format_report(const EvalReport& r);  // readable table for the terminal (intervals when computed)
nlohmann::json to_json(const EvalReport& r);

}  // namespace cxr
