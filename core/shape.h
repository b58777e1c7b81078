// Shape: the sizes of a tensor's dimensions, outermost first (NCHW for images).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

using Shape = std::vector<int64_t>;

constexpr int kMaxDims = 5;

int64_t numel(const Shape& s);           // product of sizes (1 for a scalar shape {})
std::string to_string(const Shape& s);  // "[8, 3, 224, 224]"

}  // namespace cxr
