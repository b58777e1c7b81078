#include "train/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/rng.h"

namespace cxr {

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double h = q * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

namespace {

// Rows of each unit: one unit per distinct non-empty cluster id (in order of first appearance), one per row
// without an id.
std::vector<std::vector<size_t>> units_of(const std::vector<std::string>& clusters, size_t n, bool& by_patient) {
  std::vector<std::vector<size_t>> units;
  std::map<std::string, size_t> index;
  by_patient = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& id = clusters.empty() ? std::string() : clusters[i];
    if (id.empty()) {
      units.push_back({i});
      continue;
    }
    by_patient = true;
    auto [it, fresh] = index.emplace(id, units.size());
    if (fresh) units.emplace_back();
    units[it->second].push_back(i);
  }
  return units;
}

}  // namespace

BootstrapInfo bootstrap_intervals(const std::vector<std::vector<float>>& probs, const std::vector<int>& targets,
                                  const std::vector<std::string>& class_names, const std::vector<std::string>& groups,
                                  const std::vector<std::string>& clusters, const BootstrapOptions& o) {
  CXR_CHECK(o.resamples >= 1, "bootstrap: resamples must be at least 1, got ", o.resamples);
  CXR_CHECK(o.level > 0 && o.level < 1, "bootstrap: level must be in (0, 1), got ", o.level);
  CXR_CHECK(clusters.empty() || clusters.size() == targets.size(), "bootstrap: ", clusters.size(), " cluster ids for ",
            targets.size(), " rows");
  CXR_CHECK(!targets.empty(), "bootstrap: no images to resample");
  BootstrapInfo info;
  info.resamples = o.resamples;
  info.seed = o.seed;
  info.level = o.level;
  const std::vector<std::vector<size_t>> units = units_of(clusters, targets.size(), info.by_patient);
  info.units = static_cast<int>(units.size());
  // The figures of the whole set name what gets an interval.
  const std::map<std::string, double> full = headline_figures(evaluate(probs, targets, class_names, groups));
  std::vector<std::string> keys;
  for (const auto& [k, v] : full) keys.push_back(k);
  std::vector<std::vector<double>> draws(o.resamples);  // [resample][key], NaN: not defined there
  const Rng root(o.seed);
#pragma omp parallel for schedule(dynamic)
  for (int b = 0; b < o.resamples; ++b) {
    Rng rng = root.fork(static_cast<uint64_t>(b));
    std::vector<std::vector<float>> p;
    std::vector<int> t;
    std::vector<std::string> g;
    for (size_t u = 0; u < units.size(); ++u)
      for (size_t i : units[rng.below(units.size())]) {
        p.push_back(probs[i]);
        t.push_back(targets[i]);
        if (!groups.empty()) g.push_back(groups[i]);
      }
    const std::map<std::string, double> f = headline_figures(evaluate(p, t, class_names, g));
    draws[b].resize(keys.size(), NAN);
    for (size_t k = 0; k < keys.size(); ++k)
      if (const auto it = f.find(keys[k]); it != f.end()) draws[b][k] = it->second;
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    std::vector<double> v;
    for (const auto& d : draws)
      if (std::isfinite(d[k])) v.push_back(d[k]);
    Interval iv;
    iv.defined = static_cast<int>(v.size());
    iv.lo = quantile(v, (1 - o.level) / 2);
    iv.hi = quantile(v, (1 + o.level) / 2);
    info.intervals[keys[k]] = iv;
  }
  return info;
}

}  // namespace cxr
