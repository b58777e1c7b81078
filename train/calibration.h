// Calibration: does a probability of 0.8 come true 8 times in 10? Measured as the expected calibration error
// (ECE) over equal-width confidence bins, the maximum calibration error (MCE), the reliability diagram's
// data, and the mean negative log-likelihood; improved by temperature scaling (Guo et al. 2017, "On
// Calibration of Modern Neural Networks"): one scalar T > 0 fitted on validation data, probabilities
// softmax(z / T), argmax unchanged.
//
// Top-label: each image contributes its largest probability (the confidence) and whether that class is the
// target. Bin b of B holds confidences in (b/B, (b+1)/B] (bin 0 also holds 0). ECE = sum_b n_b/n *
// |accuracy_b - confidence_b|, MCE = the largest |accuracy_b - confidence_b| over non-empty bins.
//
// Temperature works on log-probabilities: for one model they are the logits less a per-image constant
// (log softmax(z) = z - logsumexp(z)), and softmax is shift-invariant, so softmax(log p / T) = softmax(z / T)
// exactly; for an ensemble or test-time augmentation the log of the averaged probability plays the logits'
// role. A probability that underflowed to 0 in float is taken as the smallest float (log = -103.3).
#pragma once
#include <vector>

namespace cxr {

struct ReliabilityBin {
  double lo = 0, hi = 0;        // (lo, hi] of confidence
  int count = 0;
  double confidence = 0;        // mean top-label confidence in the bin (0 when empty)
  double accuracy = 0;          // share of its images predicted right (0 when empty)
};

struct Calibration {
  int bins = 0;
  double ece = 0, mce = 0;      // 0 for no images
  std::vector<ReliabilityBin> reliability;  // [bins]
};

inline constexpr int kCalibrationBins = 15;

// probs [n][K], targets [n].
Calibration calibration(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                        int bins = kCalibrationBins);

// Mean -log p[target] (natural log), computed in double; NaN for no images.
double mean_nll(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets);

// softmax(log p / T) per row, in double, returned as float. T must be finite and > 0.
std::vector<std::vector<float>> apply_temperature(const std::vector<std::vector<float>>& probs, double temperature);

// Mean NLL of softmax(log p / T): what fit_temperature minimises.
double temperature_nll(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                       double temperature);

struct TemperatureFit {
  double temperature = 1;
  double nll_before = 0, nll_after = 0;  // at T = 1 and at the fit
  bool at_bound = false;                 // the minimum lies at an end of the search range (see below)
};

// Minimises temperature_nll over T in [kMinTemperature, kMaxTemperature] by golden-section search on log T.
// The NLL is convex in 1/T (a log-sum-exp of linear functions of 1/T, less a linear term), hence unimodal in
// log T, so the search cannot stop at a false minimum. A minimum at an end of the range (e.g. every image
// right, where the NLL falls for ever as T -> 0) is reported with at_bound. Throws with no images.
inline constexpr double kMinTemperature = 0.05, kMaxTemperature = 20;
TemperatureFit fit_temperature(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets);

}  // namespace cxr
