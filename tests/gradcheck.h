// Finite-difference gradient check, shared by the op tests (ggml's test-backend-ops idea: one harness for
// every op).
//
// gradcheck(f, inputs, wants_grad) builds loss = sum(f(inputs) * R) with a fixed random R, back-propagates,
// and compares the analytic gradient of every input asked for against central differences
// (loss(x+h) - loss(x-h)) / 2h, computed in float on the same forward code. Inputs not asked for must get
// no gradient at all (a frozen weight, the input image). Returns the worst error (below) and counts; each
// failure names the input and the index.
//
// The tolerance follows each tensor's scale, not a fixed number: a fixed absolute floor lets a zero
// gradient pass wherever the true one is below it, and a network's gradients are mostly far below any
// number chosen for its largest. An entry passes when
//     |analytic - numeric| <= rtol * max(|analytic|, |numeric|, scale_floor * S) + uncertainty
// with S the largest |numeric| among that input's checked entries: an entry 100x smaller than its tensor's
// largest is still compared with itself, so a zero there fails. The uncertainty is the reference's own:
// the change of the difference over the last halving of the step (below) plus what float rounding of the
// loss can do to a difference at step h, noise(h) = noise_ulps * FLT_EPSILON * sum|f * R| / h.
// R is scaled so that the largest analytic gradient of all inputs is 1 (the loss is linear in R: only the
// units change), so the numbers a failure prints read as fractions of the largest gradient.
//
// Where x +- h crosses a kink of the function (a ReLU or a max-pool switching over), a difference is not
// the derivative. So each entry's step is halved until two successive differences agree; an entry where
// none do within `halvings` is left out. Only the forward decides that, so no error of the backward can
// hide there, and such entries must stay few (max_kinks).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "core/rng.h"

namespace cxr::testing {

inline Tensor random_tensor(const Shape& s, Rng& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

struct GradcheckOptions {
  float eps = 1e-2f;           // the first step h
  float rtol = 2e-2f;          // allowed error, relative to the larger of |analytic| and |numeric| ...
  float scale_floor = 1e-2f;   // ... or to this fraction of the input's largest |numeric|, when larger
  float noise_ulps = 1.0f;     // rounding of one loss evaluation, in FLT_EPSILON * sum|f * R|
  int halvings = 3;            // of the step, at most, looking for two differences that agree
  float max_kinks = 0.1f;      // share of an input's checked entries that may be left out on a kink
  int max_checks = 400;        // per input: a deterministic sample of indices when the input is larger
};

struct GradcheckResult {
  double worst = 0;      // the largest error (<= rtol passes)
  int64_t checked = 0;   // entries compared, over all inputs
  int64_t kinks = 0;     // entries left out on a kink
  int64_t blind = 0;     // entries compared where a zero gradient would have passed too
};

inline GradcheckResult gradcheck(const std::function<Variable(std::vector<Variable>&)>& f,
                                 std::vector<Tensor> values, const std::vector<bool>& wants_grad,
                                 GradcheckOptions opt = {}) {
  EXPECT_EQ(values.size(), wants_grad.size()) << "one wants_grad per input";
  std::vector<Variable> vars;
  for (size_t i = 0; i < values.size(); ++i) vars.emplace_back(values[i], wants_grad[i]);
  Rng rng(1234);
  Tensor r;
  double magnitude = 0;  // sum |f * R| at the inputs: what the loss's rounding is relative to
  auto backward = [&] {
    for (Variable& v : vars) v.zero_grad();
    Variable out = f(vars);
    if (!r.defined()) r = random_tensor(out.shape(), rng);
    magnitude = 0;
    for (int64_t i = 0; i < out.numel(); ++i) magnitude += std::abs(double(out.data()[i]) * r[i]);
    sum(mul(out, Variable(r))).backward();
  };
  backward();
  float largest = 0;
  for (size_t vi = 0; vi < vars.size(); ++vi)
    if (wants_grad[vi] && vars[vi].has_grad())
      for (int64_t i = 0; i < vars[vi].grad().numel(); ++i) largest = std::max(largest, std::abs(vars[vi].grad()[i]));
  if (!(largest > 0)) {
    ADD_FAILURE() << "every gradient is 0: the check would pass anything";
    return {};
  }
  for (int64_t i = 0; i < r.numel(); ++i) r[i] /= largest;
  backward();

  auto loss_of = [&] {
    NoGradGuard ng;
    Tensor o = f(vars).data();
    double acc = 0;
    for (int64_t i = 0; i < o.numel(); ++i) acc += static_cast<double>(o[i]) * r[i];
    return acc;
  };
  auto noise = [&](double h) { return opt.noise_ulps * FLT_EPSILON * magnitude / h; };
  GradcheckResult result;
  for (size_t vi = 0; vi < vars.size(); ++vi) {
    if (!wants_grad[vi]) {
      EXPECT_FALSE(vars[vi].has_grad()) << "input " << vi << " was not asked for a gradient and got one";
      continue;
    }
    EXPECT_TRUE(vars[vi].has_grad()) << "input " << vi << " got no gradient";
    if (!vars[vi].has_grad()) continue;
    Tensor& x = vars[vi].data();
    const Tensor analytic = vars[vi].grad();
    auto central = [&](int64_t i, double h) {
      const float orig = x[i];
      x[i] = static_cast<float>(orig + h);
      const double up = loss_of();
      x[i] = static_cast<float>(orig - h);
      const double down = loss_of();
      x[i] = orig;
      return (up - down) / (2.0 * h);
    };
    std::vector<int64_t> at;
    std::vector<double> first;  // the difference at the first step, for the scale
    const int64_t stride = std::max<int64_t>(1, x.numel() / opt.max_checks);
    for (int64_t i = 0; i < x.numel(); i += stride) {
      at.push_back(i);
      first.push_back(central(i, opt.eps));
    }
    double scale = 0;
    for (double d : first) scale = std::max(scale, std::abs(d));
    // What a and b may differ by, relative to the larger (or to the input's scale), before the rounding.
    auto allowed = [&](double a, double b, double rel) {
      return rel * std::max({std::abs(a), std::abs(b), opt.scale_floor * scale});
    };
    size_t kinks = 0;
    for (size_t k = 0; k < at.size(); ++k) {
      double h = opt.eps, numeric = first[k], uncertainty = 0;
      bool agreed = false;
      for (int halving = 0; halving < opt.halvings && !agreed; ++halving) {
        const double d = central(at[k], h / 2);
        // The change from the last step bounds what is left of the step's error (it shrinks at least in
        // proportion to h), the rounding comes on top.
        uncertainty = std::abs(d - numeric) + noise(h / 2);
        agreed = std::abs(d - numeric) <= allowed(d, numeric, opt.rtol / 4) + noise(h) + noise(h / 2);
        numeric = d;
        h /= 2;
      }
      if (!agreed) {
        ++kinks;
        ++result.kinks;
        continue;
      }
      const double a = analytic[at[k]];
      const double err = std::abs(a - numeric) / (allowed(a, numeric, 1) + uncertainty / opt.rtol);
      result.worst = std::max(result.worst, err);
      ++result.checked;
      result.blind += std::abs(numeric) <= allowed(0, numeric, opt.rtol) + uncertainty;
      EXPECT_LE(err, opt.rtol) << "input " << vi << " index " << at[k] << ": analytic " << a << " numeric "
                               << numeric << " +- " << uncertainty << " (step " << h
                               << "; the input's largest numeric " << scale << ")";
    }
    EXPECT_LE(kinks, opt.max_kinks * at.size())
        << "input " << vi << ": " << kinks << " of " << at.size() << " entries on a kink (try a smaller eps)";
  }
  return result;
}

}  // namespace cxr::testing
