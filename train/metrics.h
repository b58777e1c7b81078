// Classification metrics, as scikit-learn defines them: accuracy, per-class precision / recall / F1 /
// support, macro-F1, confusion matrix, one-vs-rest ROC AUC (with ties handled by the trapezoid rule, i.e.
// the Mann-Whitney statistic), the ROC curve points for plots, and accuracy and confusion per group (e.g.
// per `source` column of a manifest: shortcuts hide there).
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cxr {

struct ClassReport {
  std::string name;
  double precision = 0, recall = 0, f1 = 0, roc_auc = 0;  // roc_auc is NaN when a class has no positive or no negative
  int support = 0;
};

struct RocCurve {
  std::vector<double> fpr, tpr;  // from (0,0) to (1,1)
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
};

// probs: [n][K] class probabilities (rows need not be normalised for AUC; argmax is the prediction).
// groups: empty, or one group name per sample.
EvalReport evaluate(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                    const std::vector<std::string>& class_names, const std::vector<std::string>& groups = {});

// One-vs-rest ROC AUC of scores for the positives (labels true); NaN without both kinds.
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

std::string format_report(const EvalReport& r);  // readable table for the terminal
nlohmann::json to_json(const EvalReport& r);

}  // namespace cxr
