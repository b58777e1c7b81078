// Faithfulness: does the model's confidence really depend on the pixels the map calls important?
//
// Deletion and insertion (RISE, Petsiuk et al. 2018, arXiv 1806.07421). The pixels of the image are ordered
// by decreasing saliency (ties: raster order, so the order is deterministic). For k = 0..n (n = steps) the
// first m_k = round(k * H * W / n) pixels of that order are
//   deletion   replaced by the deletion baseline (all channels of a pixel together),
//   insertion  taken from the image, the rest from the insertion baseline,
// and the model's probability of the explained class is recorded at fraction f_k = k / n. The AUC is the
// trapezoid rule over f in [0, 1]. A faithful map makes the probability collapse quickly when its top pixels
// go (LOW deletion AUC) and recover quickly when they come back (HIGH insertion AUC).
//   Baselines, as in RISE's published code: deletion replaces pixels by ZEROS of the model's input space
//   (the model sees normalised inputs, so that is black with "none" normalisation and the mean colour with
//   "imagenet"); insertion starts from a BLURRED copy of the image (Gaussian, sigma = 5 px at 224, scaled
//   with the input size, truncated at 3 sigma, edges replicated), which removes detail without bringing in a
//   colour the model never saw. Both are options.
//   The deletion curve at f = 0 and the insertion curve at f = 1 are the unmodified image: its probability
//   is computed once and shared (a ScoreFn is a pure function).
//
// Average Drop and Increase in Confidence (Grad-CAM++, Chattopadhay et al. 2018, arXiv 1710.11063). With E the
// map scaled to [0, 1] at input resolution, O_i the class probability on the masked image E * x_i (exactly:
// E * x + (1 - E) * b with b the deletion baseline; zeros by default, which is the paper's E * x) and Y_i the
// probability on the full image:
//   drop_i = max(0, Y_i - O_i) / Y_i      Average Drop  AD = 100 * mean_i drop_i           (lower is better)
//   increase_i = [O_i > Y_i]              Increase in Confidence  IC = 100 * mean_i increase_i  (higher is better)
// An image with Y_i = 0 has drop 0 (nothing to drop).
//
// Cost: 2n + 2 ScoreFn images per explained image (deletion 1..n, insertion 0..n-1, the full image, the
// masked image), sent in chunks of `batch` images.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "explain/xai_fns.h"

namespace cxr {

enum class Baseline { Zeros, Blur };
Baseline parse_baseline(const std::string& name);  // "zeros" | "blur"; throws otherwise
const char* baseline_name(Baseline b);

struct FaithfulnessOptions {
  int steps = 16;  // n: curve points at k / n, k = 0..n
  Baseline deletion_baseline = Baseline::Zeros;
  Baseline insertion_baseline = Baseline::Blur;
  float blur_sigma = 0.0f;  // pixels; <= 0: 5 * S / 224
  int batch = 32;           // images per ScoreFn call
};

struct FaithfulnessRow {
  int target = -1;              // the explained class
  std::vector<float> deletion;  // n + 1 probabilities of `target`, at fractions k / n
  std::vector<float> insertion;
  double deletion_auc = 0.0, insertion_auc = 0.0;
  float full = 0.0f;      // Y: probability on the unmodified image
  float masked = 0.0f;    // O: probability on E * x
  double drop = 0.0;      // max(0, Y - O) / Y (0 when Y = 0)
  bool increase = false;  // O > Y
};

// images [N, C, S, S], maps [N, S, S] (any real values; only their order and, for AD/IC, their min-max
// scaling matter), classes: one per image. One row per image.
std::vector<FaithfulnessRow> faithfulness(const ScoreFn& score, const Tensor& images, const Tensor& maps,
                                          const std::vector<int>& classes, const FaithfulnessOptions& opt = {});

struct FaithfulnessSummary {
  int64_t images = 0;
  double deletion_auc = 0.0, insertion_auc = 0.0;  // means
  double average_drop = 0.0;                       // AD, percent
  double increase_in_confidence = 0.0;             // IC, percent
};
FaithfulnessSummary summarize(const std::vector<FaithfulnessRow>& rows);

// ---- building blocks (public for tests) ---------------------------------------------------------------

// Trapezoid rule over equally spaced points on [0, 1]: sum_k (y_k + y_{k+1}) / 2 / (size - 1).
double trapezoid_auc(const std::vector<float>& y);
// Pixel indices (row-major, into H * W) by decreasing value; ties in increasing index.
std::vector<int64_t> saliency_order(const Tensor& map);
// The baseline image for one image [C, S, S] (a new tensor).
Tensor baseline_image(const Tensor& image, Baseline b, float blur_sigma = 0.0f);
// Separable Gaussian blur of every plane of [C, H, W], truncated at ceil(3 sigma), edges replicated.
Tensor gaussian_blur(const Tensor& chw, float sigma);

}  // namespace cxr
