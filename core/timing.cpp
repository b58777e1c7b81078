#include "core/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace cxr {

double Timing::median() const {
  if (seconds.empty()) return 0.0;
  std::vector<double> s = seconds;
  std::sort(s.begin(), s.end());
  const size_t n = s.size();
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double Timing::cv() const {
  const size_t n = seconds.size();
  if (n < 2) return 0.0;
  const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / static_cast<double>(n);
  if (mean <= 0) return 0.0;
  double ss = 0;
  for (double s : seconds) ss += (s - mean) * (s - mean);
  return std::sqrt(ss / static_cast<double>(n - 1)) / mean;
}

Timing time_repeated(int warmup, int repetitions, const std::function<void()>& work,
                     const std::function<void()>& after_each) {
  using Clock = std::chrono::steady_clock;
  Timing t;
  for (int i = 0; i < warmup + repetitions; ++i) {
    const auto t0 = Clock::now();
    work();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (i >= warmup) t.seconds.push_back(dt);
    if (after_each) after_each();
  }
  return t;
}

}  // namespace cxr
