// Exercise 3 (docs/EXERCISES.md, two stars): k x k average pooling, stride k, forward and backward.
#pragma once
#include "autograd/variable.h"

namespace cxr::exercises {

// x [N, C, H, W] with H and W multiples of k (else a cxr::Error whose message says "multiple of k")
// -> y [N, C, H/k, W/k], y[n, c, i, j] = mean of x[n, c, i*k .. i*k+k-1, j*k .. j*k+k-1].
// The windows do not overlap, so backward gives every pixel of window (i, j) dy[n, c, i, j] / (k*k), and
// needs only the shape of x (not x itself).
Variable avg_pool(const Variable& x, int k);

}  // namespace cxr::exercises
