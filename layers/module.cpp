#include "layers/module.h"

#include <algorithm>

namespace cxr {

Variable Module::operator()(const Variable& x) {
  Variable y = forward(x);
  for (auto& [id, hook] : hooks_) hook(*this, y);
  return y;
}

int Module::add_forward_hook(ForwardHook h) {
  hooks_.push_back({next_hook_, std::move(h)});
  return next_hook_++;
}

void Module::remove_forward_hook(int id) {
  hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(), [id](auto& p) { return p.first == id; }), hooks_.end());
}

static std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::vector<std::pair<std::string, Variable*>> Module::named_parameters(const std::string& prefix) {
  std::vector<std::pair<std::string, Variable*>> out;
  for (auto& [n, v] : params_) out.push_back({join(prefix, n), v});
  for (auto& [n, m] : children_) {
    auto sub = m->named_parameters(join(prefix, n));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [n, t] : buffers_) out.push_back({join(prefix, n), t});
  for (auto& [n, m] : children_) {
    auto sub = m->named_buffers(join(prefix, n));
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Variable*> Module::parameters() {
  std::vector<Variable*> out;
  for (auto& [n, v] : named_parameters()) out.push_back(v);
  return out;
}

int64_t Module::parameter_count() {
  int64_t n = 0;
  for (auto* v : parameters()) n += v->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::set_requires_grad(bool r) {
  for (auto* v : parameters()) v->set_requires_grad(r);
}

void Module::zero_grad() {
  for (auto* v : parameters()) v->zero_grad();
}

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  register_module(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
  return *this;
}

Variable Sequential::forward(const Variable& x) { return forward_range(x, 0, layers_.size()); }

Variable Sequential::forward_range(const Variable& x, size_t begin, size_t end) {
  CXR_CHECK(begin <= end && end <= layers_.size(), "Sequential::forward_range [", begin, ", ", end,
            ") out of range for ", layers_.size(), " layers");
  Variable h = x;
  for (size_t i = begin; i < end; ++i) h = (*layers_[i])(h);
  return h;
}

}  // namespace cxr
