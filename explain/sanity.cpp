#include "explain/sanity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/init.h"

namespace cxr {

std::vector<double> average_ranks(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), int64_t{0});
  const float* v = t.data();
  std::sort(idx.begin(), idx.end(), [v](int64_t a, int64_t b) { return v[a] < v[b]; });
  std::vector<double> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && v[idx[static_cast<size_t>(j + 1)]] == v[idx[static_cast<size_t>(i)]]) ++j;
    const double avg = 0.5 * static_cast<double>(i + j) + 1.0;  // positions i..j hold ranks i+1..j+1
    for (int64_t k = i; k <= j; ++k) r[static_cast<size_t>(idx[static_cast<size_t>(k)])] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(const Tensor& a, const Tensor& b, bool absolute) {
  CXR_CHECK(a.defined() && b.defined() && a.numel() == b.numel(), "spearman: tensors of ",
            a.defined() ? to_string(a.shape()) : "undefined", " and ", b.defined() ? to_string(b.shape()) : "undefined",
            " differ in size");
  const int64_t n = a.numel();
  CXR_CHECK(n >= 2, "spearman: need at least 2 values, got ", n);
  for (int64_t i = 0; i < n; ++i)
    CXR_CHECK(std::isfinite(a[i]) && std::isfinite(b[i]), "spearman: non-finite value at element ", i);
  Tensor x = a, y = b;
  if (absolute) {
    x = Tensor::empty({n});
    y = Tensor::empty({n});
    for (int64_t i = 0; i < n; ++i) x[i] = std::fabs(a[i]), y[i] = std::fabs(b[i]);
  }
  const std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  const double mean = 0.5 * static_cast<double>(n + 1);  // ranks always average (n + 1) / 2
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (size_t i = 0; i < rx.size(); ++i) {
    const double dx = rx[i] - mean, dy = ry[i] - mean;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0.0 || syy == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

// ---- weights ----------------------------------------------------------------------------------------

WeightSnapshot::WeightSnapshot(Module& m) {
  for (auto& [name, v] : m.named_parameters()) saved_.push_back({&v->data(), v->data().clone()});
  for (auto& [name, t] : m.named_buffers()) saved_.push_back({t, t->clone()});
}

void WeightSnapshot::restore() {
  for (auto& [dst, src] : saved_) {
    if (dst->defined() && dst->shape() == src.shape())
      dst->copy_from(src);
    else
      *dst = src.clone();
  }
  done_ = true;
}

WeightSnapshot::~WeightSnapshot() {
  if (!done_) restore();
}

std::vector<RandomizationUnit> randomization_units(Model& model) {
  std::vector<RandomizationUnit> units;
  for (const LayerRef& l : model.layers()) {
    Module* m = l.module;
    if (dynamic_cast<Conv2d*>(m) || dynamic_cast<Linear*>(m)) {
      units.push_back({l.name, {m}});
    } else if (dynamic_cast<BatchNorm2d*>(m)) {
      if (!units.empty() && dynamic_cast<Conv2d*>(units.back().modules.back())) {
        units.back().name += "+" + l.name;
        units.back().modules.push_back(m);
      } else {
        units.push_back({l.name, {m}});  // a batch-norm with no conv just below: its own unit
      }
    }
  }
  return units;
}

void reinitialize(const RandomizationUnit& unit, Rng& rng) {
  for (Module* m : unit.modules) {
    if (auto* c = dynamic_cast<Conv2d*>(m)) {
      kaiming_normal_fan_out_(c->weight.data(), rng);
      if (c->bias.defined()) c->bias.data().zero();
    } else if (auto* l = dynamic_cast<Linear*>(m)) {
      normal_(l->weight.data(), 0.0f, 0.01f, rng);
      l->bias.data().zero();
    } else if (auto* b = dynamic_cast<BatchNorm2d*>(m)) {
      b->weight.data().fill(1.0f);
      b->bias.data().zero();
    }
  }
}

static Tensor image_map(const Tensor& maps, int64_t n) {
  Shape s(maps.shape().begin() + 1, maps.shape().end());
  return maps.slice(n, n + 1).reshape(s);
}

SanityResult cascading_randomization(Model& model, const MapFn& map_fn, const Tensor& images,
                                     const SanityOptions& opt) {
  CXR_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 1,
            "sanity check: images must be [N, C, S, S] with N >= 1, got ",
            images.defined() ? to_string(images.shape()) : "undefined");
  const std::vector<RandomizationUnit> units = randomization_units(model);
  CXR_CHECK(!units.empty(), "sanity check: ", model.name(), " has no conv / linear layer to randomise");
  const int64_t N = images.size(0);
  SanityResult res;
  res.units = static_cast<int>(units.size());
  res.half = (res.units + 1) / 2;

  WeightSnapshot snapshot(model);  // restores on every way out of this function
  const Tensor original = map_fn(images).clone();
  CXR_CHECK(original.defined() && original.size(0) == N, "sanity check: the map function returned ",
            original.defined() ? to_string(original.shape()) : "undefined", " for ", N, " images");
  const Rng base(opt.seed);
  for (size_t s = 0; s < units.size(); ++s) {
    const RandomizationUnit& u = units[units.size() - 1 - s];
    Rng rng = base.fork(s);
    reinitialize(u, rng);
    const Tensor maps = map_fn(images);
    CXR_CHECK(maps.defined() && maps.shape() == original.shape(), "sanity check: the map function returned ",
              maps.defined() ? to_string(maps.shape()) : "undefined", " after randomising ", u.name, ", not ",
              to_string(original.shape()));
    SanityStep step;
    step.layer = u.name;
    step.randomized = static_cast<int>(s + 1);
    for (int64_t n = 0; n < N; ++n) {
      const Tensor a = image_map(original, n), b = image_map(maps, n);
      bool finite = true;
      for (int64_t i = 0; i < b.numel() && finite; ++i) finite = std::isfinite(b[i]) && std::isfinite(a[i]);
      double r = finite ? spearman(a, b) : NAN, ra = finite ? spearman(a, b, true) : NAN;
      step.rho.push_back(std::isnan(r) ? 0.0 : r);
      step.rho_abs.push_back(std::isnan(ra) ? 0.0 : ra);
    }
    step.mean_rho = std::accumulate(step.rho.begin(), step.rho.end(), 0.0) / static_cast<double>(N);
    step.mean_rho_abs = std::accumulate(step.rho_abs.begin(), step.rho_abs.end(), 0.0) / static_cast<double>(N);
    res.steps.push_back(std::move(step));
  }
  snapshot.restore();

  const SanityStep& h = res.steps[static_cast<size_t>(res.half - 1)];
  res.rho_at_half = h.mean_rho;
  res.rho_abs_at_half = h.mean_rho_abs;
  res.passed = !(h.mean_rho > opt.threshold || h.mean_rho_abs > opt.threshold);
  res.verdict = str(res.passed ? "PASS" : "FAIL", ": after randomising ", res.half, " of ", res.units,
                    " layers (down to ", h.layer, ") the maps' Spearman correlation with the original is ", h.mean_rho,
                    " (of |maps|: ", h.mean_rho_abs, ")", res.passed ? " <= " : " > ", opt.threshold,
                    res.passed ? ": the maps depend on the weights" : ": the maps barely depend on the model");
  return res;
}

}  // namespace cxr
