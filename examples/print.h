// Printing for the examples: a name, a shape and the values, one line, six decimals. The docs show these
// lines and tests/test_examples.cpp compares them, so the format must be the same on every machine.
#pragma once
#include <cstdio>
#include <string>

#include "core/tensor.h"

namespace cxr::examples {

// "-0.000000" and "0.000000" would be the same number printed two ways, and which one a product of BLAS
// gives depends on its kernel; print every zero (and every value that rounds to zero) as "0.000000".
inline double shown(float v) {
  const double d = v;
  return (d > -5e-7 && d < 5e-7) ? 0.0 : d;
}

inline std::string shape_of(const Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

inline void print(const char* name, const Tensor& t) {
  std::printf("%-8s %-8s", name, shape_of(t).c_str());
  for (int64_t i = 0; i < t.numel(); ++i) std::printf(" %.6f", shown(t.data()[i]));
  std::printf("\n");
}

}  // namespace cxr::examples
