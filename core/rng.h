// Rng: a small, seeded, portable random generator (xoshiro256**, seeded by splitmix64).
//
// Results depend only on the seed and the order of calls, never on the platform or the standard library,
// so a run is reproducible across machines. Parallel code takes one generator per work item with
// Rng(seed).fork(item), which gives the same numbers whatever the thread count.
#pragma once
#include <cstdint>
#include <utility>

namespace cxr {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x5eed);
  uint64_t next_u64();
  float uniform();                        // [0, 1)
  float uniform(float lo, float hi);      // [lo, hi)
  float normal();                         // standard normal (Box-Muller)
  float normal(float mean, float stddev);
  uint64_t below(uint64_t n);             // uniform integer in [0, n), n > 0
  double gamma(double shape);             // Gamma(shape, 1), shape > 0 (Marsaglia & Tsang 2000)
  double beta(double a, double b);        // Beta(a, b), a, b > 0: the mixing weight of mixup
  bool bernoulli(float p) { return uniform() < p; }
  Rng fork(uint64_t stream) const;        // an independent generator derived from this one's state
  // Fisher-Yates: a uniformly random order of v, one below() per element from the back, in place. (The
  // sequence of draws is part of every seeded result: data order, patient splits, mixup pairs.)
  template <typename Vec>
  void shuffle(Vec& v) {
    for (uint64_t i = static_cast<uint64_t>(v.size()); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  uint64_t s_[4];
  float spare_ = 0.0f;
  bool has_spare_ = false;
};

}  // namespace cxr
