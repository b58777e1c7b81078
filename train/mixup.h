// Mixup (Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018):
// train on convex combinations of pairs of images, with the same combination of their labels.
//
// Why: each training image is seen blended with another, so the network cannot memorise single images
// and their (possibly wrong) labels; the paper shows it resists corrupted labels and overfits later.
// The real chest X-rays overfit from early on (docs/RESULTS.md §2) and NIH's labels are mined from reports.
//
// The pairing is the batch against a random permutation of itself (the paper's form), with one weight
// lambda ~ Beta(alpha, alpha) per batch. The loss is lambda * CE(logits, a) + (1 - lambda) * CE(logits, b),
// which equals the cross-entropy against the mixed label distribution.
#pragma once
#include <vector>

#include "autograd/variable.h"
#include "core/rng.h"
#include "layers/loss.h"

namespace cxr {

struct MixedBatch {
  Tensor images;              // lambda * x + (1 - lambda) * x[perm]
  std::vector<int> labels_a;  // the batch's own labels
  std::vector<int> labels_b;  // the labels of the images mixed in: labels_a[perm[i]]
  std::vector<int> perm;
  float lambda = 1.0f;
  // The label with the larger weight, for a training accuracy that reads like an unmixed one.
  int dominant(size_t i) const { return lambda >= 0.5f ? labels_a[i] : labels_b[i]; }
};

// Mixes a batch [N, ...] with labels N. alpha > 0; draws lambda and the permutation from rng.
MixedBatch mixup_batch(const Tensor& images, const std::vector<int>& labels, float alpha, Rng& rng);

// lambda * cross_entropy(logits, labels_a) + (1 - lambda) * cross_entropy(logits, labels_b).
Variable mixup_cross_entropy(const Variable& logits, const MixedBatch& mix, const CrossEntropyOptions& opt = {});

}  // namespace cxr
