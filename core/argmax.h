// argmax: the index of the largest of n values, the first one on ties (as numpy and torch). The predicted
// class of a row of logits or probabilities, wherever one is needed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace cxr {

inline int argmax(const float* values, int64_t n) {
  return static_cast<int>(std::max_element(values, values + n) - values);
}

inline int argmax(const std::vector<float>& values) {
  return argmax(values.data(), static_cast<int64_t>(values.size()));
}

}  // namespace cxr
