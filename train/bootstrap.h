// Bootstrap confidence intervals for the figures of an evaluation (train/metrics.h headline_figures):
// accuracy, macro-F1, per-class precision / recall / F1 / ROC AUC, per-source accuracy and NORMAL-vs-PNEUMONIA
// AUC, ECE and MCE.
//
// Resampling unit: the patient. Images of one patient are correlated (the same lungs, the same scanner), so
// resampling images would treat them as independent and give intervals too narrow; a cluster bootstrap draws
// patients with replacement, each drawn patient bringing all its images. Rows without a patient id are each
// their own unit (and with no ids at all this is the ordinary image bootstrap).
//
// Each resample draws as many units as there are, from Rng(seed).fork(resample), and recomputes evaluate()
// on the rows drawn; the interval is the percentile interval: the (1-level)/2 and (1+level)/2 quantiles of
// the resampled figures (linear interpolation between order statistics, numpy's default), over the
// resamples in which the figure is defined. Resamples run in parallel, each with its own generator and its
// own slot, so the result is the same for any thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace cxr {

struct BootstrapOptions {
  int resamples = 1000;
  uint64_t seed = 1;
  double level = 0.95;
};

// The same arguments as evaluate(), plus one cluster (patient) id per row, "" for none. Fills and returns
// the BootstrapInfo that r.bootstrap holds.
BootstrapInfo bootstrap_intervals(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                                  const std::vector<std::string>& class_names, const std::vector<std::string>& groups,
                                  const std::vector<std::string>& clusters, const BootstrapOptions& options);

// The q-quantile (0 <= q <= 1) of values, by linear interpolation between order statistics (numpy's
// default, Hyndman & Fan type 7). NaN for no values.
double quantile(std::vector<double> values, double q);

}  // namespace cxr
