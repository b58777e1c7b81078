// Exercise 8 (docs/EXERCISES.md, three stars): predict the memory a graph holds before measuring it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cxr::exercises {

// The graph the grader builds, x a leaf [n] that requires a gradient (n a multiple of 16), with ops from
// autograd/ops.h, inside a function that returns only `loss` (so a and b are not held by the caller):
//   Variable a = scale(x, 2);
//   Variable b = mul(a, x);
//   Variable loss = sum(b);
// Predict core/allocator.h's storage_use() in bytes, ABOVE what was live before those three lines (x's data
// is not counted, x's gradient is). Only tensor storage counts (std::function and node objects do not);
// every tensor takes its bytes rounded up to a multiple of 64, at least 64.
struct LiveBytes {
  size_t after_forward;           // live_bytes once the function has returned loss
  size_t peak_in_backward;        // peak_bytes during loss.backward() (the peak reset just before it)
  size_t after_backward;          // live_bytes after loss.backward()
  size_t after_retained_backward; // live_bytes after loss.backward(/*retain_graph=*/true) instead
};
LiveBytes predict_live_bytes(int64_t n);

}  // namespace cxr::exercises
