// batch_norm2d: per channel c over the M = N*H*W values of that channel,
//   training: mean_c, var_c = biased batch variance;   eval: mean_c, var_c = running stats
//   xhat = (x - mean_c) / sqrt(var_c + eps),   y = weight_c * xhat + bias_c
// Backward (training; the batch statistics depend on x, which gives the two extra terms):
//   dbias_c = sum(dy),  dweight_c = sum(dy * xhat)
//   dx = weight_c / sqrt(var_c + eps) * (dy - sum(dy)/M - xhat * sum(dy * xhat)/M)
// Backward (eval: the statistics are constants):  dx = dy * weight_c / sqrt(var_c + eps).
// Each channel is handled whole by one thread (sums in double, in a fixed order), so results do not
// depend on the thread count. The sums run in 8 interleaved partial sums (lane j takes every 8th value)
// added at the end: still one fixed order, but independent additions the compiler vectorises, where one
// running double sum waits on the previous addition for every value.
#include "layers/batchnorm.h"

#include <cmath>
#include <memory>
#include <vector>

namespace cxr {

namespace {

// Below this many values a parallel region costs more than it saves (tiny layers, tests).
constexpr int64_t kParallelMin = 1 << 15;

struct ChannelStats {
  std::vector<float> mean, invstd;  // per channel, as used by forward
};

constexpr int kLanes = 8;

// sum of f(j) for j in [0, len), in kLanes partial sums.
template <typename F>
double lane_sum(int64_t len, F f) {
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += f(j + l);
  for (; j < len; ++j) acc[j % kLanes] += f(j);
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

void check_param(const Variable& p, int64_t channels, const char* name, const Shape& xs) {
  if (!p.defined()) return;
  CXR_CHECK(p.data().dim() == 1 && p.size(0) == channels, "batch_norm2d: ", name, " ", to_string(p.shape()),
            " does not match input ", to_string(xs), " (", channels, " channels)");
}

}  // namespace

Variable batch_norm2d(const Variable& x, const Variable& weight, const Variable& bias, BatchNormState& state,
                      bool training, float momentum, float eps, const ReplicaSum& across) {
  CXR_CHECK(x.defined(), "batch_norm2d: undefined input");
  const Shape xs = x.shape();
  CXR_CHECK(xs.size() == 4, "batch_norm2d: input must be [N, C, H, W], got ", to_string(xs));
  CXR_CHECK(x.numel() > 0, "batch_norm2d: empty input ", to_string(xs));
  const int64_t n = xs[0], c = xs[1], hw = xs[2] * xs[3];
  int64_t m = n * hw;  // values per channel: of the whole batch over the replicas when synchronised
  check_param(weight, c, "weight", xs);
  check_param(bias, c, "bias", xs);
  const bool sync = training && static_cast<bool>(across);
  if (sync) {
    double total = static_cast<double>(m);
    across(&total, 1);
    m = static_cast<int64_t>(total);
  }
  if (training) {
    CXR_CHECK(m > 1, "batch_norm2d: training needs more than one value per channel, got input ", to_string(xs));
    if (!state.running_mean.defined()) state.running_mean = Tensor::zeros({c});
    if (!state.running_var.defined()) state.running_var = Tensor::full({c}, 1.0f);
  } else {
    CXR_CHECK(state.running_mean.defined() && state.running_var.defined(),
              "batch_norm2d: eval mode needs running statistics");
  }
  CXR_CHECK(state.running_mean.numel() == c && state.running_var.numel() == c, "batch_norm2d: running stats ",
            to_string(state.running_mean.shape()), " / ", to_string(state.running_var.shape()),
            " do not match input ", to_string(xs));

  auto stats = std::make_shared<ChannelStats>();
  stats->mean.resize(static_cast<size_t>(c));
  stats->invstd.resize(static_cast<size_t>(c));
  const Tensor& xt = x.data();
  const float* px = xt.data();
  const float* pw = weight.defined() ? weight.data().data() : nullptr;
  const float* pb = bias.defined() ? bias.data().data() : nullptr;
  float* rm = state.running_mean.data();
  float* rv = state.running_var.data();
  Tensor y = Tensor::empty(xs);
  float* py = y.data();

  // Training: per channel the sum, then (two passes: no cancellation as in E[x^2] - E[x]^2) the sum of
  // squared deviations from the mean; each summed over the replicas when synchronised.
  std::vector<double> sum(training ? static_cast<size_t>(c) : 0), ss(sum.size());
  auto channel_sum = [&](int64_t ch, double mu, bool squares) {
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = px + (i * c + ch) * hw;
      acc += squares ? lane_sum(hw, [p, mu](int64_t j) { return (p[j] - mu) * (p[j] - mu); })
                     : lane_sum(hw, [p](int64_t j) { return static_cast<double>(p[j]); });
    }
    return acc;
  };
  if (training) {
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelMin)
    for (int64_t ch = 0; ch < c; ++ch) sum[ch] = channel_sum(ch, 0.0, false);
    if (sync) across(sum.data(), c);
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelMin)
    for (int64_t ch = 0; ch < c; ++ch) ss[ch] = channel_sum(ch, sum[ch] / static_cast<double>(m), true);
    if (sync) across(ss.data(), c);
  }

#pragma omp parallel for schedule(static) if (n * c * hw > kParallelMin)
  for (int64_t ch = 0; ch < c; ++ch) {
    float mean, var;
    if (training) {
      const double mu = sum[ch] / static_cast<double>(m);
      mean = static_cast<float>(mu);
      var = static_cast<float>(ss[ch] / static_cast<double>(m));
      // PyTorch's update: the running variance is the unbiased one, M / (M - 1) times the batch variance.
      const float unbiased = static_cast<float>(ss[ch] / static_cast<double>(m - 1));
      rm[ch] = (1.0f - momentum) * rm[ch] + momentum * mean;
      rv[ch] = (1.0f - momentum) * rv[ch] + momentum * unbiased;
    } else {
      mean = rm[ch];
      var = rv[ch];
    }
    const float invstd = 1.0f / std::sqrt(var + eps);
    stats->mean[ch] = mean;
    stats->invstd[ch] = invstd;
    const float scale = (pw ? pw[ch] : 1.0f) * invstd;
    const float shift = (pb ? pb[ch] : 0.0f) - mean * scale;
    for (int64_t i = 0; i < n; ++i) {
      const float* p = px + (i * c + ch) * hw;
      float* q = py + (i * c + ch) * hw;
      for (int64_t j = 0; j < hw; ++j) q[j] = p[j] * scale + shift;
    }
  }
  if (training) ++state.num_batches_tracked;

  // Backward needs x whenever it needs xhat: for dweight, and for dx in training.
  const bool need_x = weight.requires_grad() || (training && x.requires_grad());
  Tensor keep_x = need_x ? xt : Tensor();
  Tensor keep_w = weight.defined() ? weight.data() : Tensor();
  return Variable::make(y, {x, weight, bias}, [=](const Tensor& g, std::vector<Variable>& in) {
    const bool want_x = in[0].requires_grad(), want_w = in[1].requires_grad(), want_b = in[2].requires_grad();
    Tensor dx = want_x ? Tensor::empty(xs) : Tensor();
    Tensor dw = want_w ? Tensor::empty({c}) : Tensor();
    Tensor db = want_b ? Tensor::empty({c}) : Tensor();
    const float* pg = g.data();
    const float* kx = keep_x.defined() ? keep_x.data() : nullptr;
    const float* kw = keep_w.defined() ? keep_w.data() : nullptr;
    // Per channel sum(dy) and sum(dy * xhat): this replica's for dbias and dweight (the trainer sums
    // parameter gradients over the replicas), the whole batch's for dx in training.
    const bool need_sums = want_w || want_b || (training && want_x);
    std::vector<double> sums(need_sums ? static_cast<size_t>(2 * c) : 0);  // [sum_g..., sum_gxhat...]
    if (need_sums) {
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelMin)
      for (int64_t ch = 0; ch < c; ++ch) {
        const float mean = stats->mean[ch], invstd = stats->invstd[ch];
        double sum_g = 0, sum_gxhat = 0;
        for (int64_t i = 0; i < n; ++i) {
          const float* gp = pg + (i * c + ch) * hw;
          const float* xp = kx ? kx + (i * c + ch) * hw : nullptr;
          sum_g += lane_sum(hw, [gp](int64_t j) { return static_cast<double>(gp[j]); });
          if (xp)
            sum_gxhat += lane_sum(hw, [gp, xp, mean, invstd](int64_t j) {
              return static_cast<double>(gp[j]) * ((xp[j] - mean) * invstd);
            });
        }
        sums[ch] = sum_g;
        sums[c + ch] = sum_gxhat;
        if (want_w) dw[ch] = static_cast<float>(sum_gxhat);
        if (want_b) db[ch] = static_cast<float>(sum_g);
      }
      if (sync && want_x) across(sums.data(), 2 * c);
    }
#pragma omp parallel for schedule(static) if (n * c * hw > kParallelMin)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float mean = stats->mean[ch], invstd = stats->invstd[ch];
      const double sum_g = need_sums ? sums[ch] : 0.0, sum_gxhat = need_sums ? sums[c + ch] : 0.0;
      if (!want_x) continue;
      const float wscale = (kw ? kw[ch] : 1.0f) * invstd;
      if (training) {
        const float mg = static_cast<float>(sum_g / static_cast<double>(m));
        const float mgx = static_cast<float>(sum_gxhat / static_cast<double>(m));
        for (int64_t i = 0; i < n; ++i) {
          const float* gp = pg + (i * c + ch) * hw;
          const float* xp = kx + (i * c + ch) * hw;
          float* dp = dx.data() + (i * c + ch) * hw;
          for (int64_t j = 0; j < hw; ++j) dp[j] = wscale * (gp[j] - mg - (xp[j] - mean) * invstd * mgx);
        }
      } else {
        for (int64_t i = 0; i < n; ++i) {
          const float* gp = pg + (i * c + ch) * hw;
          float* dp = dx.data() + (i * c + ch) * hw;
          for (int64_t j = 0; j < hw; ++j) dp[j] = gp[j] * wscale;
        }
      }
    }
    if (want_x) in[0].accumulate_grad(dx);
    if (want_w) in[1].accumulate_grad(dw);
    if (want_b) in[2].accumulate_grad(db);
  }, "batch_norm2d", Saved{{keep_x, keep_w}, (stats->mean.size() + stats->invstd.size()) * sizeof(float)});
}

}  // namespace cxr
