#include "core/blas.h"

#include <cblas.h>

namespace cxr {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B,
              static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
}

void sgemv(bool trans_a, int64_t M, int64_t N, float alpha, const float* A, int64_t lda, const float* x, float beta,
           float* y) {
  if (M == 0 || N == 0) return;
  cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, static_cast<int>(M), static_cast<int>(N), alpha,
              A, static_cast<int>(lda), x, 1, beta, y, 1);
}

}  // namespace cxr
