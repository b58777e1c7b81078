// Row-major matrix products on OpenBLAS. All matrices are row-major; ld* are row strides.
//   C[M x N] = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T.
#pragma once
#include <cstdint>

namespace cxr {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// y[M] = alpha * op(A) * x + beta * y, A is [M x N] row-major (op(A) = A^T gives y of length N).
void sgemv(bool trans_a, int64_t M, int64_t N, float alpha, const float* A, int64_t lda, const float* x, float beta,
           float* y);

// The kernels the loaded OpenBLAS runs (openblas_get_corename(), e.g. "Haswell", "SkylakeX").
const char* blas_core_name();

// The OPENBLAS_CORETYPE worth asking for on this CPU, or nullptr when OpenBLAS's own choice is right.
// Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and runs its AVX2 (Haswell) kernels there, at half
// the speed of its AVX-512 (SkylakeX) ones (docs/PERFORMANCE.md: SGEMM 237 -> 462 GFLOP/s on 2 cores).
// OpenBLAS reads the variable when it is loaded, so only a process that starts itself again can use it
// (cli/main.cpp does).
const char* preferred_blas_coretype();

// Floating-point operations of one sgemm: 2*M*N*K.
inline double gemm_flops(int64_t M, int64_t N, int64_t K) { return 2.0 * M * N * K; }

}  // namespace cxr
