// Optimizers with PyTorch's exact update rules: SGD (momentum, Nesterov, weight decay), Adam and AdamW.
//
//   auto opt = std::make_unique<SGD>(model.named_parameters(), /*lr=*/0.01f, SGDOptions{.momentum = 0.9f});
//   loss.backward(); opt->step(); opt->zero_grad();
//
// Parameters without a gradient (frozen, or unused in this step) are skipped, as PyTorch skips grad None:
// their state and step count do not move.
//
// State, for checkpoints: named tensors "<parameter name>.<key>", e.g.
//   features.0.weight.momentum_buffer                               (SGD with momentum)
//   features.0.weight.exp_avg, .exp_avg_sq, .step ([1], a float)    (Adam, AdamW)
// A state tensor exists only once a step has created it (PyTorch starts the momentum buffer at the first
// gradient, so a missing buffer and a zero buffer differ). named_state() lists what exists, in parameter
// order; load_state() restores one entry (checking that it belongs to a known parameter and key and has
// the parameter's shape). step_count() counts step() calls and is saved alongside.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace cxr {

using NamedParameters = std::vector<std::pair<std::string, Variable*>>;

class Optimizer {
 public:
  Optimizer(NamedParameters params, float lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  virtual std::string type() const = 0;  // "SGD", "Adam", "AdamW"
  virtual std::string describe() const = 0;  // with its hyper-parameters
  void zero_grad();  // drops every parameter's gradient (PyTorch's set_to_none)

  float lr() const { return lr_; }
  void set_lr(float lr);  // for learning-rate schedules
  int64_t step_count() const { return steps_; }
  void set_step_count(int64_t n) { steps_ = n; }

  const NamedParameters& params() const { return params_; }
  // The keys of this optimizer's per-parameter state ("momentum_buffer"; "exp_avg", "exp_avg_sq", "step").
  virtual std::vector<std::string> state_keys() const = 0;
  std::vector<std::pair<std::string, Tensor*>> named_state();
  void load_state(const std::string& name, const Tensor& value);  // copies value
  void clear_state() { state_.clear(); }

 protected:
  // The state tensor `key` of parameter i, if it exists (else nullptr), or created zero-filled.
  Tensor* find_state(size_t i, const std::string& key);
  Tensor& state(size_t i, const std::string& key, const Shape& shape);

  NamedParameters params_;
  float lr_;
  int64_t steps_ = 0;

 private:
  std::map<std::string, Tensor> state_;  // by full name "<param>.<key>"
};

struct SGDOptions {
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// d = grad + wd * p;  with momentum: buf = d at the first step, else buf = momentum * buf + (1 - dampening) * d;
//   d = nesterov ? d + momentum * buf : buf;   p -= lr * d.
class SGD : public Optimizer {
 public:
  SGD(NamedParameters params, float lr, SGDOptions opt = {});
  void step() override;
  std::string type() const override { return "SGD"; }
  std::string describe() const override;
  std::vector<std::string> state_keys() const override;
  SGDOptions options;
};

struct AdamOptions {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // Adam: L2 added to the gradient; AdamW: decoupled (default 1e-2 there)
};

// t += 1;  g = grad (+ wd * p for Adam);  (AdamW first: p *= 1 - lr * wd)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class Adam : public Optimizer {
 public:
  Adam(NamedParameters params, float lr = 1e-3f, AdamOptions opt = {});
  void step() override;
  std::string type() const override { return "Adam"; }
  std::string describe() const override;
  std::vector<std::string> state_keys() const override { return {"exp_avg", "exp_avg_sq", "step"}; }
  AdamOptions options;

 protected:
  void adam_step(bool decoupled);
};

class AdamW : public Adam {
 public:
  AdamW(NamedParameters params, float lr = 1e-3f, AdamOptions opt = with_default_decay());
  void step() override { adam_step(true); }
  std::string type() const override { return "AdamW"; }
  std::string describe() const override;
  static AdamOptions with_default_decay() {
    AdamOptions o;
    o.weight_decay = 1e-2f;
    return o;
  }
};

}  // namespace cxr
