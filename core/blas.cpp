#include "core/blas.h"

#include <cblas.h>

#include <cctype>
#include <string>

#include "core/strings.h"

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

const char* blas_core_name() { return openblas_get_corename(); }

const char* preferred_blas_coretype() {
  // SkylakeX's SGEMM needs AVX-512 F, BW, DQ and VL (Zen 4 and 5 have them; Xeon Phi does not have BW).
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (!avx512) return nullptr;
  // Only when OpenBLAS fell back to its AVX2 kernels on an AVX-512 CPU; any other core is its own choice.
  const std::string core = lower(blas_core_name());
  return core == "haswell" || core == "zen" ? "SkylakeX" : nullptr;
}

}  // namespace cxr
