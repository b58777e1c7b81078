// SGD, Adam and AdamW, written to follow torch.optim (1.13, single-tensor path) operation by operation, so
// that a run matches PyTorch's to float rounding. Every update is elementwise: large parameters are split
// across threads, which does not change any result.
#include "layers/optim.h"

#include <cmath>

namespace cxr {

namespace {
constexpr int64_t kParallelMin = 1 << 15;
}

Optimizer::Optimizer(NamedParameters params, float lr) : params_(std::move(params)), lr_(lr) {
  CXR_CHECK(lr >= 0.0f && std::isfinite(lr), "optimizer: learning rate ", lr, " must be finite and >= 0");
  for (size_t i = 0; i < params_.size(); ++i) {
    CXR_CHECK(params_[i].second && params_[i].second->defined(), "optimizer: parameter '", params_[i].first,
              "' is undefined");
    for (size_t j = 0; j < i; ++j)
      CXR_CHECK(params_[j].first != params_[i].first, "optimizer: parameter name '", params_[i].first,
                "' appears twice");
  }
}

void Optimizer::set_lr(float lr) {
  CXR_CHECK(lr >= 0.0f && std::isfinite(lr), "optimizer: learning rate ", lr, " must be finite and >= 0");
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p->zero_grad();
}

Tensor* Optimizer::find_state(size_t i, const std::string& key) {
  auto it = state_.find(params_[i].first + "." + key);
  return it == state_.end() ? nullptr : &it->second;
}

Tensor& Optimizer::state(size_t i, const std::string& key, const Shape& shape) {
  Tensor& t = state_[params_[i].first + "." + key];
  if (!t.defined()) t = Tensor::zeros(shape);
  return t;
}

std::vector<std::pair<std::string, Tensor*>> Optimizer::named_state() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const std::string& key : state_keys())
      if (Tensor* t = find_state(i, key)) out.push_back({params_[i].first + "." + key, t});
  return out;
}

void Optimizer::load_state(const std::string& name, const Tensor& value) {
  CXR_CHECK(value.defined(), "optimizer ", type(), ": undefined tensor for state '", name, "'");
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& pname = params_[i].first;
    if (name.size() <= pname.size() + 1 || name.compare(0, pname.size(), pname) != 0 || name[pname.size()] != '.')
      continue;
    const std::string key = name.substr(pname.size() + 1);
    for (const std::string& k : state_keys()) {
      if (k != key) continue;
      const Shape want = key == "step" ? Shape{1} : params_[i].second->shape();
      CXR_CHECK(value.numel() == numel(want), "optimizer ", type(), ": state '", name, "' has shape ",
                to_string(value.shape()), ", expected ", to_string(want));
      Tensor t = Tensor::empty(want);
      t.copy_from(value);
      state_[name] = t;
      return;
    }
  }
  throw Error(str("optimizer ", type(), ": state '", name, "' names no parameter/key of this optimizer"));
}

// ---- SGD -----------------------------------------------------------------------------------------------

SGD::SGD(NamedParameters params, float lr, SGDOptions opt) : Optimizer(std::move(params), lr), options(opt) {
  CXR_CHECK(opt.momentum >= 0.0f && opt.weight_decay >= 0.0f, "SGD: momentum ", opt.momentum,
            " and weight_decay ", opt.weight_decay, " must be >= 0");
  CXR_CHECK(!opt.nesterov || (opt.momentum > 0.0f && opt.dampening == 0.0f),
            "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

std::vector<std::string> SGD::state_keys() const {
  if (options.momentum != 0.0f) return {"momentum_buffer"};
  return {};
}

std::string SGD::describe() const {
  return str("SGD(lr=", lr_, ", momentum=", options.momentum, ", dampening=", options.dampening,
             ", weight_decay=", options.weight_decay, ", nesterov=", options.nesterov ? "True" : "False", ")");
}

void SGD::step() {
  const float lr = lr_, mom = options.momentum, damp = options.dampening, wd = options.weight_decay;
  const bool nesterov = options.nesterov;
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = *params_[i].second;
    if (!p.has_grad()) continue;
    float* w = p.data().data();
    const float* g = p.grad().data();
    const int64_t n = p.numel();
    float* buf = nullptr;
    bool first = false;
    if (mom != 0.0f) {
      first = find_state(i, "momentum_buffer") == nullptr;
      buf = state(i, "momentum_buffer", p.shape()).data();
    }
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t j = 0; j < n; ++j) {
      float d = g[j];
      if (wd != 0.0f) d = d + wd * w[j];
      if (buf) {
        buf[j] = first ? d : buf[j] * mom + (1.0f - damp) * d;  // first step: the buffer is the gradient
        d = nesterov ? d + mom * buf[j] : buf[j];
      }
      w[j] = w[j] - lr * d;
    }
  }
  ++steps_;
}

// ---- Adam / AdamW --------------------------------------------------------------------------------------

Adam::Adam(NamedParameters params, float lr, AdamOptions opt) : Optimizer(std::move(params), lr), options(opt) {
  CXR_CHECK(opt.beta1 >= 0.0f && opt.beta1 < 1.0f && opt.beta2 >= 0.0f && opt.beta2 < 1.0f, "Adam: betas (",
            opt.beta1, ", ", opt.beta2, ") must be in [0, 1)");
  CXR_CHECK(opt.eps >= 0.0f && opt.weight_decay >= 0.0f, "Adam: eps ", opt.eps, " and weight_decay ",
            opt.weight_decay, " must be >= 0");
}

void Adam::step() { adam_step(false); }

static std::string adam_describe(const std::string& type, float lr, const AdamOptions& o) {
  return str(type, "(lr=", lr, ", betas=(", o.beta1, ", ", o.beta2, "), eps=", o.eps, ", weight_decay=",
             o.weight_decay, ")");
}

std::string Adam::describe() const { return adam_describe("Adam", lr_, options); }

AdamW::AdamW(NamedParameters params, float lr, AdamOptions opt) : Adam(std::move(params), lr, opt) {}

std::string AdamW::describe() const { return adam_describe("AdamW", lr_, options); }

void Adam::adam_step(bool decoupled) {
  const float lr = lr_, b1 = options.beta1, b2 = options.beta2, eps = options.eps, wd = options.weight_decay;
  for (size_t i = 0; i < params_.size(); ++i) {
    Variable& p = *params_[i].second;
    if (!p.has_grad()) continue;
    float* w = p.data().data();
    const float* g = p.grad().data();
    const int64_t n = p.numel();
    float* m = state(i, "exp_avg", p.shape()).data();
    float* v = state(i, "exp_avg_sq", p.shape()).data();
    Tensor& step_t = state(i, "step", {1});
    step_t[0] += 1.0f;  // per parameter, as PyTorch: a parameter frozen for a while keeps its own count
    const double t = step_t[0];
    // The corrections are computed in double, as Python computes them, then used as float scalars.
    const float step_size = static_cast<float>(lr / (1.0 - std::pow(static_cast<double>(b1), t)));
    const float bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), t)));
    const float decay = decoupled ? 1.0f - lr * wd : 1.0f;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t j = 0; j < n; ++j) {
      float gj = g[j];
      if (decoupled) {
        if (wd != 0.0f) w[j] = w[j] * decay;  // AdamW: decay the weight itself, outside the moments
      } else if (wd != 0.0f) {
        gj = gj + wd * w[j];  // Adam: L2 penalty folded into the gradient
      }
      m[j] = m[j] * b1 + (1.0f - b1) * gj;
      v[j] = v[j] * b2 + (1.0f - b2) * gj * gj;
      const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;  // eps outside the square root
      w[j] = w[j] - step_size * (m[j] / denom);
    }
  }
  ++steps_;
}

}  // namespace cxr
