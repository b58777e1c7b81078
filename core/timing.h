// Repeated wall-clock timings of the same work, summarised the way a benchmark should report them: the
// median (robust to the one slow repetition a shared machine produces) and the coefficient of variation
// (standard deviation / mean), which says whether the median can be trusted. Warm-up runs (first-touch
// page faults, OpenBLAS starting its threads, the workspace growing) are run and not kept.
#pragma once
#include <functional>
#include <vector>

namespace cxr {

struct Timing {
  std::vector<double> seconds;  // one per timed repetition, in order
  double median() const;        // 0 when empty
  // Sample standard deviation / mean; 0 with fewer than two repetitions (no spread can be seen).
  double cv() const;
};

// Runs `work` warmup times untimed, then `repetitions` times timed. `after_each` (may be empty) runs after
// every run, warm-up or not, outside the timing: a progress bar's tick.
Timing time_repeated(int warmup, int repetitions, const std::function<void()>& work,
                     const std::function<void()>& after_each = {});

}  // namespace cxr
