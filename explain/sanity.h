// Sanity check for saliency methods (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", arXiv
// 1810.03292): a map that explains the MODEL must change when the model's weights are destroyed.
//
// Cascading randomisation: the model's weighted layers are re-initialised one after another from the top
// (the logits) down, cumulatively, and after each step the maps of the same images and the same classes
// are recomputed (the MapFn runs the live model) and compared with the original maps by Spearman rank
// correlation, with and without absolute values (Adebayo et al. report both: a signed map can flip sign).
//
//   layers        each Conv2d and Linear is one step; a BatchNorm2d right after a conv is re-initialised in
//                 the same step (it belongs to that conv's unit). Running statistics (buffers) are left.
//   re-init       the model's own rule (core/init.h, torchvision's VGG): conv weights Kaiming normal
//                 (fan_out, ReLU gain), linear weights N(0, 0.01), biases 0, batch-norm weight 1 / bias 0;
//                 from Rng(seed).fork(step), so a step's weights do not depend on the number of steps.
//   verdict       FAIL when, after randomising half of the layers (ceil(L / 2) steps), the mean correlation
//                 over the images is still above `threshold` (0.9) with or without absolute values: the
//                 maps barely changed although half the network is noise. An edge detector on the input
//                 fails; Grad-CAM passes. A map that became constant or undefined has no ranking: its
//                 correlation counts as 0 (it certainly changed).
//   restore       every parameter and buffer is copied back exactly (bit for bit) when the check ends, also
//                 when the MapFn throws.
//
// Spearman's rho: Pearson correlation of the ranks, ties getting the average of the ranks they span;
// NaN when either input is constant (no ranking).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "explain/xai_fns.h"
#include "models/model.h"

namespace cxr {

// Ranks 1..n of the values of t (flattened), ties averaged: {10, 20, 20, 5} -> {2, 3.5, 3.5, 1}.
std::vector<double> average_ranks(const Tensor& t);
// Spearman's rho of two tensors with the same number of elements; absolute: of |a| and |b|.
double spearman(const Tensor& a, const Tensor& b, bool absolute = false);

struct SanityOptions {
  uint64_t seed = 0;
  double threshold = 0.9;
};

struct SanityStep {
  std::string layer;                 // the unit randomised at this step: "classifier.6", "features.3+features.4"
  int randomized = 0;                // units randomised so far (from the top)
  std::vector<double> rho, rho_abs;  // per image
  double mean_rho = 0.0, mean_rho_abs = 0.0;
};

struct SanityResult {
  std::vector<SanityStep> steps;  // one per unit, top first
  int units = 0;                  // L
  int half = 0;                   // ceil(L / 2): the step the verdict reads
  double rho_at_half = 0.0, rho_abs_at_half = 0.0;
  bool passed = true;
  std::string verdict;  // one readable line
};

// The weighted units of a model, in forward order (the cascade runs them backwards).
struct RandomizationUnit {
  std::string name;
  std::vector<Module*> modules;  // a Conv2d (+ its BatchNorm2d) or a Linear
};
std::vector<RandomizationUnit> randomization_units(Model& model);
// Re-initialises one unit as described above.
void reinitialize(const RandomizationUnit& unit, Rng& rng);

// images [N, C, S, S]; map_fn must be bound to fixed classes (the maps before and after must explain the
// same class). Runs 1 + L MapFn calls on the whole batch.
SanityResult cascading_randomization(Model& model, const MapFn& map_fn, const Tensor& images,
                                     const SanityOptions& opt = {});

// Every parameter and buffer of a model, copied; restore() copies them back. The destructor restores unless
// restore() or release() was called: a scope guard for code that changes weights.
class WeightSnapshot {
 public:
  explicit WeightSnapshot(Module& m);
  ~WeightSnapshot();
  WeightSnapshot(const WeightSnapshot&) = delete;
  WeightSnapshot& operator=(const WeightSnapshot&) = delete;
  void restore();
  void release() { done_ = true; }

 private:
  std::vector<std::pair<Tensor*, Tensor>> saved_;
  bool done_ = false;
};

}  // namespace cxr
