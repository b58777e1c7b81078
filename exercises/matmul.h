// Exercise 4 (docs/EXERCISES.md, two stars): a matrix product with both backward products.
#pragma once
#include "autograd/variable.h"

namespace cxr::exercises {

// a [M, K] x b [K, N] -> c [M, N] (a cxr::Error naming both shapes when K differs).
// Backward: dA = dC B^T and dB = A^T dC, each only when that input requires a gradient (a frozen weight
// must get none: the grader asks for one side at a time). core/blas.h's sgemm does all three products.
Variable matmul(const Variable& a, const Variable& b);

}  // namespace cxr::exercises
