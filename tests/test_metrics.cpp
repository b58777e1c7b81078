// train/metrics: every figure checked against values computed by hand on a fixed confusion.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "train/metrics.h"

using namespace cxr;

// One-hot-ish probabilities that predict `pred` with confidence `p`.
static std::vector<float> row(int pred, float p, int K = 3) {
  std::vector<float> r(K, (1 - p) / (K - 1));
  r[pred] = p;
  return r;
}

TEST(Metrics, HandComputedConfusion) {
  // true\pred  A  B  C
  //   A        3  1  0
  //   B        0  2  2
  //   C        1  0  1
  std::vector<std::pair<int, int>> tp = {{0, 0}, {0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1},
                                         {1, 2}, {1, 2}, {2, 0}, {2, 2}};
  std::vector<std::vector<float>> probs;
  std::vector<int> targets;
  std::vector<std::string> groups;
  for (size_t i = 0; i < tp.size(); ++i) {
    probs.push_back(row(tp[i].second, 0.8f));
    targets.push_back(tp[i].first);
    groups.push_back(i % 2 ? "siteB" : "siteA");
  }
  EvalReport r = evaluate(probs, targets, {"A", "B", "C"}, groups);
  EXPECT_EQ(r.confusion[0][0], 3);
  EXPECT_EQ(r.confusion[1][2], 2);
  EXPECT_EQ(r.confusion[2][0], 1);
  EXPECT_DOUBLE_EQ(r.accuracy, 6.0 / 10);
  // A: precision 3/4, recall 3/4, f1 .75; B: precision 2/3, recall 2/4, f1 = 2*(2/3*1/2)/(2/3+1/2) = 4/7;
  // C: precision 1/3, recall 1/2, f1 = 2*(1/6)/(5/6) = 0.4
  EXPECT_DOUBLE_EQ(r.classes[0].precision, 0.75);
  EXPECT_DOUBLE_EQ(r.classes[1].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.classes[1].recall, 0.5);
  EXPECT_NEAR(r.classes[1].f1, 4.0 / 7, 1e-12);
  EXPECT_NEAR(r.classes[2].f1, 0.4, 1e-12);
  EXPECT_NEAR(r.macro_f1, (0.75 + 4.0 / 7 + 0.4) / 3, 1e-12);
  EXPECT_EQ(r.classes[1].support, 4);
  // siteA = even indices 0,2,4,6,8: correct at 0,2,4 -> 3/5; siteB = 1,3,5,7,9: correct 1,5,9 -> 3/5
  EXPECT_EQ(r.per_group["siteA"], std::make_pair(3, 5));
  EXPECT_EQ(r.per_group["siteB"], std::make_pair(3, 5));
  // siteA: 0 A->A, 2 A->A, 4 B->B, 6 B->C, 8 C->A; siteB: 1 A->A, 3 A->B, 5 B->B, 7 B->C, 9 C->C
  using M = std::vector<std::vector<int>>;
  EXPECT_EQ(r.group_confusion["siteA"], (M{{2, 0, 0}, {0, 1, 1}, {1, 0, 0}}));
  EXPECT_EQ(r.group_confusion["siteB"], (M{{1, 1, 0}, {0, 1, 1}, {0, 0, 1}}));
  const std::string text = format_report(r);
  // Per source, one row per true class present: its accuracy, and what its images were taken for.
  EXPECT_NE(text.find("    A                       1.0000  (2/2)  -> A 2, B 0, C 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    C                       0.0000  (0/1)  -> A 1, B 0, C 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    A                       0.5000  (1/2)  -> A 1, B 1, C 0\n"), std::string::npos) << text;
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["per_source"]["siteB"]["confusion"], nlohmann::json(r.group_confusion["siteB"]));
}

// scikit-learn's f1_score(average='macro') averages over the labels in y_true or y_pred: a class neither
// held nor predicted is left out; one predicted but never true counts, with F1 0.
TEST(Metrics, MacroF1LeavesOutClassesNeitherHeldNorPredicted) {
  // Only B and C are true; B: 2 right, 1 called C; C: 1 right. B: P 1, R 2/3, F1 0.8; C: P 1/2, R 1, F1 2/3.
  const EvalReport r = evaluate({row(1, 0.8f), row(1, 0.8f), row(2, 0.8f), row(2, 0.8f)}, {1, 1, 1, 2},
                                {"A", "B", "C"});
  EXPECT_EQ(r.classes[0].support, 0);
  EXPECT_NEAR(r.macro_f1, (0.8 + 2.0 / 3) / 2, 1e-12);
  // A predicted once although never true: it counts, with F1 0. B: P 1, R 1/3, F1 1/2; C: P 1/2, R 1, F1 2/3.
  const EvalReport p = evaluate({row(0, 0.8f), row(1, 0.8f), row(2, 0.8f), row(2, 0.8f)}, {1, 1, 1, 2},
                                {"A", "B", "C"});
  EXPECT_NEAR(p.macro_f1, (0.0 + 0.5 + 2.0 / 3) / 3, 1e-12);
}

TEST(Metrics, RocAucByHand) {
  // Positives score 0.9, 0.4; negatives 0.8, 0.3, 0.1. Pairs (pos > neg): 0.9 beats all 3, 0.4 beats 2 -> 5/6.
  EXPECT_NEAR(roc_auc({0.9f, 0.4f, 0.8f, 0.3f, 0.1f}, {true, true, false, false, false}), 5.0 / 6, 1e-12);
  // A tie between a positive and a negative counts one half: pos {0.5, 0.7}, neg {0.5, 0.2} -> (1.5 + 2) / 4.
  EXPECT_NEAR(roc_auc({0.5f, 0.7f, 0.5f, 0.2f}, {true, true, false, false}), 3.5 / 4, 1e-12);
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.2f}, {false, true}), 1.0);
  EXPECT_TRUE(std::isnan(roc_auc({0.1f, 0.2f}, {true, true})));
  RocCurve c = roc_curve({0.9f, 0.4f, 0.8f}, {true, false, false});
  EXPECT_EQ(c.fpr.front(), 0);
  EXPECT_EQ(c.tpr.back(), 1);
  EXPECT_EQ(c.fpr.back(), 1);
}

TEST(Metrics, RejectsBadInput) {
  EXPECT_THROW(evaluate({row(0, 0.9f)}, {3}, {"A", "B", "C"}), Error);
  EXPECT_THROW(evaluate({row(0, 0.9f)}, {0, 1}, {"A", "B", "C"}), Error);
  EXPECT_THROW(evaluate({{0.5f, 0.5f}}, {0}, {"A", "B", "C"}), Error);
}

TEST(Metrics, ReportAndJson) {
  EvalReport r = evaluate({row(0, 0.9f), row(1, 0.9f)}, {0, 1}, {"A", "B", "C"}, {"x", "y"});
  std::string text = format_report(r);
  EXPECT_NE(text.find("macro-F1"), std::string::npos);
  EXPECT_NE(text.find("accuracy per source"), std::string::npos);
  auto j = to_json(r);
  EXPECT_EQ(j["accuracy"], 1.0);
  EXPECT_TRUE(j["classes"][2]["roc_auc"].is_null());  // class C has no positives
}
