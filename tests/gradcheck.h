// Finite-difference gradient check, shared by the op tests (ggml's test-backend-ops idea: one harness for
// every op).
//
// gradcheck(f, inputs) builds loss = sum(f(inputs) * R) with a fixed random R, back-propagates, and compares
// every input's analytic gradient against central differences (f(x+h) - f(x-h)) / 2h, computed in float on
// the same forward code. Returns the worst relative error; failures are reported with the input and index.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
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
  float eps = 1e-2f;      // step h
  float rtol = 2e-2f;     // allowed |analytic - numeric| / max(|analytic|, |numeric|, atol_floor)
  float atol = 2e-3f;     // absolute floor
  int max_checks = 400;   // per input: a deterministic sample of indices when the input is larger
};

inline double gradcheck(const std::function<Variable(std::vector<Variable>&)>& f, std::vector<Tensor> values,
                        const std::vector<bool>& wants_grad, GradcheckOptions opt = {}) {
  std::vector<Variable> vars;
  for (size_t i = 0; i < values.size(); ++i) vars.emplace_back(values[i], wants_grad[i]);
  Variable out = f(vars);
  Rng rng(1234);
  Tensor r = random_tensor(out.shape(), rng);
  auto loss_of = [&](std::vector<Variable>& v) {
    NoGradGuard ng;
    Tensor o = f(v).data();
    double acc = 0;
    for (int64_t i = 0; i < o.numel(); ++i) acc += static_cast<double>(o[i]) * r[i];
    return acc;
  };
  Variable loss = sum(mul(out, Variable(r)));
  loss.backward();
  double worst = 0;
  for (size_t vi = 0; vi < vars.size(); ++vi) {
    if (!wants_grad[vi]) continue;
    Tensor& x = vars[vi].data();
    EXPECT_TRUE(vars[vi].has_grad()) << "input " << vi << " got no gradient";
    if (!vars[vi].has_grad()) continue;
    Tensor analytic = vars[vi].grad();
    int64_t n = x.numel();
    int64_t step = std::max<int64_t>(1, n / opt.max_checks);
    for (int64_t i = 0; i < n; i += step) {
      float orig = x[i];
      x[i] = orig + opt.eps;
      double up = loss_of(vars);
      x[i] = orig - opt.eps;
      double down = loss_of(vars);
      x[i] = orig;
      double numeric = (up - down) / (2.0 * opt.eps);
      double a = analytic[i];
      double err = std::abs(a - numeric) / std::max({std::abs(a), std::abs(numeric), double(opt.atol) / opt.rtol});
      worst = std::max(worst, err);
      EXPECT_LE(err, opt.rtol) << "input " << vi << " index " << i << ": analytic " << a << " numeric " << numeric;
    }
  }
  return worst;
}

}  // namespace cxr::testing
