#include "train/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/argmax.h"
#include "core/error.h"

namespace cxr {

namespace {

// log p with an underflowed 0 taken as the smallest positive float (see calibration.h).
double safe_log(float p) {
  return std::log(std::max(static_cast<double>(p), static_cast<double>(std::numeric_limits<float>::denorm_min())));
}

// -log softmax(log p / T)[y] for one row, in double: logsumexp(l / T) - l[y] / T.
double row_nll(const std::vector<float>& p, int y, double inv_t) {
  double mx = -std::numeric_limits<double>::infinity();
  for (float v : p) mx = std::max(mx, safe_log(v) * inv_t);
  double s = 0;
  for (float v : p) s += std::exp(safe_log(v) * inv_t - mx);
  return mx + std::log(s) - safe_log(p[static_cast<size_t>(y)]) * inv_t;
}

}  // namespace

Calibration calibration(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets, int bins) {
  CXR_CHECK(bins >= 1, "calibration: bins must be at least 1, got ", bins);
  CXR_CHECK(probs.size() == targets.size(), "calibration: ", probs.size(), " predictions for ", targets.size(),
            " targets");
  Calibration c;
  c.bins = bins;
  c.reliability.resize(static_cast<size_t>(bins));
  std::vector<double> conf_sum(bins, 0), correct(bins, 0);
  for (size_t i = 0; i < probs.size(); ++i) {
    const int pred = argmax(probs[i]);
    const double conf = probs[i][static_cast<size_t>(pred)];
    // (b/B, (b+1)/B]: ceil(conf * B) - 1, with 0 (and anything below) in bin 0 and 1 in the last.
    int b = static_cast<int>(std::ceil(conf * bins)) - 1;
    b = std::clamp(b, 0, bins - 1);
    c.reliability[b].count++;
    conf_sum[b] += conf;
    correct[b] += pred == targets[i];
  }
  const double n = static_cast<double>(probs.size());
  for (int b = 0; b < bins; ++b) {
    ReliabilityBin& r = c.reliability[b];
    r.lo = static_cast<double>(b) / bins;
    r.hi = static_cast<double>(b + 1) / bins;
    if (r.count == 0) continue;
    r.confidence = conf_sum[b] / r.count;
    r.accuracy = correct[b] / r.count;
    const double gap = std::abs(r.accuracy - r.confidence);
    c.ece += r.count / n * gap;
    c.mce = std::max(c.mce, gap);
  }
  return c;
}

double mean_nll(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets) {
  return temperature_nll(probs, targets, 1.0);
}

double temperature_nll(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                       double temperature) {
  CXR_CHECK(std::isfinite(temperature) && temperature > 0, "temperature must be finite and > 0, got ", temperature);
  CXR_CHECK(probs.size() == targets.size(), "temperature_nll: ", probs.size(), " predictions for ", targets.size(),
            " targets");
  if (probs.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (size_t i = 0; i < probs.size(); ++i) s += row_nll(probs[i], targets[i], 1.0 / temperature);
  return s / static_cast<double>(probs.size());
}

std::vector<std::vector<float>> apply_temperature(const std::vector<std::vector<float>>& probs, double temperature) {
  CXR_CHECK(std::isfinite(temperature) && temperature > 0, "temperature must be finite and > 0, got ", temperature);
  std::vector<std::vector<float>> out(probs.size());
  for (size_t i = 0; i < probs.size(); ++i) {
    std::vector<double> l(probs[i].size());
    double mx = -std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < l.size(); ++k) mx = std::max(mx, l[k] = safe_log(probs[i][k]) / temperature);
    double s = 0;
    for (double& v : l) s += v = std::exp(v - mx);
    out[i].resize(l.size());
    for (size_t k = 0; k < l.size(); ++k) out[i][k] = static_cast<float>(l[k] / s);
  }
  return out;
}

TemperatureFit fit_temperature(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets) {
  CXR_CHECK(!probs.empty(), "fit_temperature: no images to fit a temperature on");
  auto f = [&](double log_t) { return temperature_nll(probs, targets, std::exp(log_t)); };
  // Golden-section search on [log Tmin, log Tmax]; 80 steps shrink the bracket by 0.618^80 ~ 2e-17.
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = std::log(kMinTemperature), b = std::log(kMaxTemperature);
  double c = b - g * (b - a), d = a + g * (b - a);
  double fc = f(c), fd = f(d);
  for (int it = 0; it < 80 && b - a > 1e-12; ++it) {
    if (fc <= fd) {
      b = d, d = c, fd = fc;
      c = b - g * (b - a), fc = f(c);
    } else {
      a = c, c = d, fc = fd;
      d = a + g * (b - a), fd = f(d);
    }
  }
  TemperatureFit fit;
  double log_t = (a + b) / 2;
  // The ends themselves are never evaluated by the search: compare with them, so a monotone NLL lands there.
  const double lo = std::log(kMinTemperature), hi = std::log(kMaxTemperature);
  double best = f(log_t);
  for (double end : {lo, hi})
    if (const double fe = f(end); fe < best) best = fe, log_t = end;
  fit.temperature = std::exp(log_t);
  fit.at_bound = log_t - lo < 1e-3 || hi - log_t < 1e-3;
  fit.nll_before = temperature_nll(probs, targets, 1.0);
  fit.nll_after = best;
  return fit;
}

}  // namespace cxr
