// Reference solution of exercise 4.
#include "core/blas.h"
#include "exercises/matmul.h"

namespace cxr::exercises {

Variable matmul(const Variable& a, const Variable& b) {
  check_dims(a.data(), 2, "matmul (a)");
  check_dims(b.data(), 2, "matmul (b)");
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  CXR_CHECK(b.size(0) == K, "matmul: ", to_string(a.shape()), " x ", to_string(b.shape()), ": inner sizes differ");
  Tensor out = Tensor::empty({M, N});
  sgemm(false, false, M, N, K, 1.0f, a.data().data(), K, b.data().data(), N, 0.0f, out.data(), N);
  // dA needs B and dB needs A: keep each only if the other side will want it (a frozen side keeps nothing
  // of the trainable one alive longer than needed).
  Tensor ta = b.requires_grad() ? a.data() : Tensor(), tb = a.requires_grad() ? b.data() : Tensor();
  return Variable::make(out, {a, b}, [ta, tb, M, K, N](const Tensor& g, std::vector<Variable>& in) {
    if (in[0].requires_grad()) {  // dA [M, K] = dC [M, N] * B^T
      Tensor ga = Tensor::empty({M, K});
      sgemm(false, true, M, K, N, 1.0f, g.data(), N, tb.data(), N, 0.0f, ga.data(), K);
      in[0].accumulate_grad(ga);
    }
    if (in[1].requires_grad()) {  // dB [K, N] = A^T * dC
      Tensor gb = Tensor::empty({K, N});
      sgemm(true, false, K, N, M, 1.0f, ta.data(), K, g.data(), N, 0.0f, gb.data(), N);
      in[1].accumulate_grad(gb);
    }
  }, "matmul");
}

}  // namespace cxr::exercises
