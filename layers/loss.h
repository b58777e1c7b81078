// Losses over logits [N, K] and integer targets (class indices, a std::vector<int> of N).
#pragma once
#include <vector>

#include "autograd/variable.h"

namespace cxr {

Variable log_softmax(const Variable& logits);  // along dim 1
Tensor softmax(const Tensor& logits);          // along dim 1, no gradient (for probabilities)

struct CrossEntropyOptions {
  std::vector<float> class_weights;  // empty = all 1; else one per class (PyTorch's weighted mean)
  float label_smoothing = 0.0f;      // PyTorch's definition
};

// Mean cross-entropy, exactly torch.nn.functional.cross_entropy. Throws on a target out of range and on
// non-finite logits (naming the first bad row).
Variable cross_entropy(const Variable& logits, const std::vector<int>& targets, const CrossEntropyOptions& opt = {});

}  // namespace cxr
