// linear: y = x W^T + b. Forward and backward are matrix products on OpenBLAS:
//   forward   y[N, out]  = x[N, in] * W[out, in]^T + b          (batch 1: y = W x + b, an SGEMV)
//   backward  dx[N, in]  = dy[N, out] * W[out, in]               (batch 1: dx = W^T dy, an SGEMV)
//             dW[out, in] = dy^T[out, N] * x[N, in]               (batch 1: the outer product dy x^T)
//             db[out]     = sum over rows of dy
// The closure keeps x only if W needs a gradient, and W only if x needs one.
#include "layers/linear.h"

#include "core/blas.h"

namespace cxr {

static void check_linear_args(const Tensor& x, const Tensor& w, const Tensor& b) {
  CXR_CHECK(x.defined() && w.defined(), "linear: undefined input or weight");
  CXR_CHECK(x.dim() == 2, "linear: input must be [N, in_features], got ", to_string(x.shape()));
  CXR_CHECK(w.dim() == 2, "linear: weight must be [out_features, in_features], got ", to_string(w.shape()));
  CXR_CHECK(x.numel() > 0 && w.numel() > 0, "linear: empty tensor: input ", to_string(x.shape()), ", weight ",
            to_string(w.shape()));
  CXR_CHECK(x.size(1) == w.size(1), "linear: input ", to_string(x.shape()), " does not match weight ",
            to_string(w.shape()), " (in_features ", w.size(1), ")");
  if (b.defined())
    CXR_CHECK(b.dim() == 1 && b.size(0) == w.size(0), "linear: bias ", to_string(b.shape()),
              " does not match weight ", to_string(w.shape()));
}

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  const Tensor& xt = x.data();
  const Tensor& wt = weight.data();
  Tensor bt = bias.defined() ? bias.data() : Tensor();
  check_linear_args(xt, wt, bt);
  const int64_t n = xt.size(0), in = xt.size(1), out = wt.size(0);

  // Start from the bias (or zero) in every row, then add the product with beta = 1.
  Tensor y = Tensor::empty({n, out});
  float* py = y.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) py[i * out + o] = bt.defined() ? bt[o] : 0.0f;
  if (n == 1)
    sgemv(false, out, in, 1.0f, wt.data(), in, xt.data(), 1.0f, py);
  else
    sgemm(false, true, n, out, in, 1.0f, xt.data(), in, wt.data(), in, 1.0f, py, out);

  std::vector<Variable> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  Tensor keep_x = weight.requires_grad() ? xt : Tensor();
  Tensor keep_w = x.requires_grad() ? wt : Tensor();
  return Variable::make(y, std::move(inputs), [keep_x, keep_w, n, in, out](const Tensor& g, std::vector<Variable>& v) {
    const float* dy = g.data();
    if (v[0].requires_grad()) {
      Tensor dx = Tensor::empty({n, in});
      if (n == 1)
        sgemv(true, out, in, 1.0f, keep_w.data(), in, dy, 0.0f, dx.data());
      else
        sgemm(false, false, n, in, out, 1.0f, dy, out, keep_w.data(), in, 0.0f, dx.data(), in);
      v[0].accumulate_grad(dx);
    }
    if (v[1].requires_grad()) {
      Tensor dw = Tensor::empty({out, in});
      if (n == 1) {
        // Outer product dy x^T: a plain loop is as fast as a rank-1 SGEMM and needs no extra BLAS entry.
        float* pw = dw.data();
        const float* px = keep_x.data();
#pragma omp parallel for schedule(static) if (out * in > (1 << 16))
        for (int64_t o = 0; o < out; ++o)
          for (int64_t i = 0; i < in; ++i) pw[o * in + i] = dy[o] * px[i];
      } else {
        sgemm(true, false, out, in, n, 1.0f, dy, out, keep_x.data(), in, 0.0f, dw.data(), in);
      }
      v[1].accumulate_grad(dw);
    }
    if (v.size() > 2 && v[2].requires_grad()) {
      Tensor db = Tensor::zeros({out});
      float* pb = db.data();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t o = 0; o < out; ++o) pb[o] += dy[i * out + o];
      v[2].accumulate_grad(db);
    }
  }, "linear", Saved{{keep_x, keep_w}});
}

}  // namespace cxr
