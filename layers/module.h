// Module: a layer with named parameters and buffers, in torchvision's naming (features.0.weight).
//
// A module owns its parameters (Variables with requires_grad) and buffers (plain tensors such as batch-norm
// running statistics), and its children. Names are joined with dots from the root, exactly as PyTorch's
// state_dict names them, so checkpoints interoperate. train()/eval() switch dropout and batch-norm.
//
// Forward hooks (PyTorch's register_forward_hook): a callback that sees a module's output each time the
// module runs through operator(). The explain module uses one to mark a layer's activation so that its
// gradient can be read after backward.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace cxr {

class Module {
 public:
  using ForwardHook = std::function<void(Module& self, Variable& output)>;

  virtual ~Module() = default;
  virtual Variable forward(const Variable& x) = 0;
  virtual std::string type() const = 0;                 // "Conv2d", "ReLU", ...
  virtual std::string describe() const { return type() + "()"; }  // with its hyper-parameters

  // Runs forward() and then this module's forward hooks.
  Variable operator()(const Variable& x);
  int add_forward_hook(ForwardHook h);                  // returns an id for remove_forward_hook
  void remove_forward_hook(int id);

  std::vector<std::pair<std::string, Variable*>> named_parameters(const std::string& prefix = "");
  std::vector<std::pair<std::string, Tensor*>> named_buffers(const std::string& prefix = "");
  std::vector<Variable*> parameters();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  int64_t parameter_count();

  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void set_requires_grad(bool r);  // all parameters (freezing / unfreezing)
  void zero_grad();

 protected:
  void register_parameter(const std::string& name, Variable* v) { params_.push_back({name, v}); }
  void register_buffer(const std::string& name, Tensor* t) { buffers_.push_back({name, t}); }
  void register_module(const std::string& name, std::shared_ptr<Module> m) { children_.push_back({name, std::move(m)}); }

 private:
  bool training_ = true;
  std::vector<std::pair<std::string, Variable*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<std::pair<int, ForwardHook>> hooks_;
  int next_hook_ = 0;
};

// While alive, m is in eval mode (dropout off, batch norm on its running statistics); the mode it had comes
// back when the guard goes, even when a forward throws.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(Module& m) : m_(m), was_training_(m.is_training()) {
    if (was_training_) m_.eval();
  }
  ~EvalModeGuard() {
    if (was_training_) m_.train(true);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

// Sequential: children named "0", "1", ... run in order.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential& add(std::shared_ptr<Module> m);
  size_t size() const { return layers_.size(); }
  Module& at(size_t i) { return *layers_.at(i); }
  std::shared_ptr<Module> ptr(size_t i) { return layers_.at(i); }
  Variable forward(const Variable& x) override;
  // Runs layers [begin, end) only (explain uses it to re-run the head above a layer).
  Variable forward_range(const Variable& x, size_t begin, size_t end);
  std::string type() const override { return "Sequential"; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace cxr
