// log_softmax, softmax and cross-entropy over logits [N, K].
//
// cross_entropy is built from two ops: lp = log_softmax(logits), then a smoothed, weighted negative
// log-likelihood of lp. With w_c the class weights (all 1 when none), eps the label smoothing and
// W = sum_i w_{y_i}, PyTorch 1.13 defines the mean loss as
//   loss = (1 - eps) * sum_i -w_{y_i} lp[i, y_i] / W  +  (eps / K) * sum_i sum_c -w_c lp[i, c] / W
// (the smoothing term is divided by the same W: PyTorch normalises it "to be consistent with nll_loss").
// Its gradient w.r.t. lp is  -((1 - eps) w_{y_i} [c == y_i] + (eps / K) w_c) / W,  and log_softmax's
// backward turns that into the gradient w.r.t. the logits.
#include "layers/loss.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

void check_logits(const Tensor& t, const char* what) {
  CXR_CHECK(t.defined(), what, ": undefined logits");
  CXR_CHECK(t.dim() == 2, what, ": logits must be [N, K], got ", to_string(t.shape()));
  CXR_CHECK(t.numel() > 0, what, ": empty logits ", to_string(t.shape()));
}

// Row-wise log-softmax of [N, K] into out, stable: x - max - log(sum exp(x - max)).
void log_softmax_rows(const float* x, float* out, int64_t n, int64_t k) {
#pragma omp parallel for schedule(static) if (n * k > (1 << 15))
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x + i * k;
    float mx = r[0];
    for (int64_t j = 1; j < k; ++j) mx = std::max(mx, r[j]);
    double s = 0;
    for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(r[j] - mx));
    // (x - max) first, then the log-sum: subtracting max + log(sum) as one large number would lose digits.
    const float log_sum = static_cast<float>(std::log(s));
    for (int64_t j = 0; j < k; ++j) out[i * k + j] = (r[j] - mx) - log_sum;
  }
}

}  // namespace

Variable log_softmax(const Variable& logits) {
  const Tensor& x = logits.data();
  check_logits(x, "log_softmax");
  const int64_t n = x.size(0), k = x.size(1);
  Tensor out = Tensor::empty({n, k});
  log_softmax_rows(x.data(), out.data(), n, k);
  // d lp_j / d x_c = [j == c] - softmax_c, so dx_c = g_c - softmax_c * sum_j g_j; softmax = exp(out).
  return Variable::make(out, {logits}, [out, n, k](const Tensor& g, std::vector<Variable>& in) {
    Tensor dx = Tensor::empty({n, k});
    const float* pg = g.data();
    const float* po = out.data();
    float* pd = dx.data();
#pragma omp parallel for schedule(static) if (n * k > (1 << 15))
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < k; ++j) s += pg[i * k + j];
      for (int64_t j = 0; j < k; ++j)
        pd[i * k + j] = pg[i * k + j] - std::exp(po[i * k + j]) * static_cast<float>(s);
    }
    in[0].accumulate_grad(dx);
  }, "log_softmax", Saved{{out}});
}

Tensor softmax(const Tensor& logits) {
  check_logits(logits, "softmax");
  const int64_t n = logits.size(0), k = logits.size(1);
  Tensor out = Tensor::empty({n, k});
  log_softmax_rows(logits.data(), out.data(), n, k);
  for (int64_t i = 0; i < out.numel(); ++i) out[i] = std::exp(out[i]);
  return out;
}

Variable cross_entropy(const Variable& logits, const std::vector<int>& targets, const CrossEntropyOptions& opt) {
  const Tensor& x = logits.data();
  check_logits(x, "cross_entropy");
  const int64_t n = x.size(0), k = x.size(1);
  CXR_CHECK(static_cast<int64_t>(targets.size()) == n, "cross_entropy: ", targets.size(),
            " targets for logits ", to_string(x.shape()));
  for (int64_t i = 0; i < n; ++i) {
    const int t = targets[static_cast<size_t>(i)];
    CXR_CHECK(t >= 0 && t < k, "cross_entropy: target ", t, " of row ", i, " is out of range for ", k,
              " classes (logits ", to_string(x.shape()), ")");
    for (int64_t j = 0; j < k; ++j)
      CXR_CHECK(std::isfinite(x[i * k + j]), "cross_entropy: non-finite logit ", x[i * k + j], " in row ", i,
                " (column ", j, ") of logits ", to_string(x.shape()));
  }
  const bool weighted = !opt.class_weights.empty();
  CXR_CHECK(!weighted || static_cast<int64_t>(opt.class_weights.size()) == k, "cross_entropy: ",
            opt.class_weights.size(), " class weights for ", k, " classes");
  const float eps = opt.label_smoothing;
  CXR_CHECK(eps >= 0.0f && eps <= 1.0f, "cross_entropy: label_smoothing ", eps, " is not in [0, 1]");
  auto w = [&](int64_t c) { return weighted ? opt.class_weights[static_cast<size_t>(c)] : 1.0f; };
  double wsum = 0;
  for (int64_t i = 0; i < n; ++i) wsum += w(targets[static_cast<size_t>(i)]);
  CXR_CHECK(wsum > 0, "cross_entropy: the class weights of the targets sum to ", wsum, " (must be > 0)");

  Variable lp = log_softmax(logits);
  const float* p = lp.data().data();
  double nll = 0, smooth = 0;
  for (int64_t i = 0; i < n; ++i) {
    nll -= w(targets[static_cast<size_t>(i)]) * static_cast<double>(p[i * k + targets[static_cast<size_t>(i)]]);
    if (eps > 0)
      for (int64_t j = 0; j < k; ++j) smooth -= w(j) * static_cast<double>(p[i * k + j]);
  }
  const double loss = (1.0 - eps) * nll / wsum + (eps / static_cast<double>(k)) * smooth / wsum;

  // The gradient w.r.t. lp does not depend on lp: build it once, scale by the incoming scalar in backward.
  Tensor dlp = Tensor::empty({n, k});
  for (int64_t i = 0; i < n; ++i) {
    const int t = targets[static_cast<size_t>(i)];
    for (int64_t j = 0; j < k; ++j) {
      const double d = (j == t ? (1.0 - eps) * w(t) : 0.0) + eps / static_cast<double>(k) * w(j);
      dlp[i * k + j] = static_cast<float>(-d / wsum);
    }
  }
  return Variable::make(Tensor::full({}, static_cast<float>(loss)), {lp},
                        [dlp](const Tensor& g, std::vector<Variable>& in) {
                          const float s = g.item();
                          Tensor d = Tensor::empty(dlp.shape());
                          for (int64_t i = 0; i < d.numel(); ++i) d[i] = dlp[i] * s;
                          in[0].accumulate_grad(d);
                        }, "cross_entropy", Saved{{dlp}});
}

}  // namespace cxr
