#include "autograd/variable.h"

#include <algorithm>
#include <unordered_set>

namespace cxr {

static thread_local bool t_grad_enabled = true;

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }

Variable::Variable(Tensor data, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->data = std::move(data);
  node_->requires_grad = requires_grad;
}

void Variable::set_requires_grad(bool r) {
  CXR_CHECK(node_, "set_requires_grad on an undefined Variable");
  if (r && node_->backward) {
    // Cut the history: this value becomes a leaf whose gradient backward() will stop at.
    node_->inputs.clear();
    node_->backward = nullptr;
    node_->op = "leaf";
    node_->saved_bytes = node_->saved_shared_bytes = 0;
  }
  node_->requires_grad = r;
}

void Variable::accumulate_grad(const Tensor& g) {
  Tensor& grad = node_->grad;
  check_same_shape(node_->data, g, "accumulate_grad");
  if (!grad.defined()) {
    grad = g;  // shares g: cheap, and safe because a shared grad is never updated in place (below)
    return;
  }
  if (grad.storage_unique()) {
    float* d = grad.data();
    const float* s = g.data();
    for (int64_t i = 0; i < grad.numel(); ++i) d[i] += s[i];
  } else {
    Tensor sum = Tensor::empty(grad.shape());
    const float *a = grad.data(), *b = g.data();
    float* d = sum.data();
    for (int64_t i = 0; i < sum.numel(); ++i) d[i] = a[i] + b[i];
    grad = sum;
  }
}

// A tensor's storage as the allocator hands it out: a multiple of 64 bytes, at least 64 (core/allocator.h).
// Captured tensors are whole allocations or reshapes of one, so numel is the storage's size.
static size_t allocated_bytes(const Tensor& t) {
  const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(float);
  return std::max<size_t>(64, (bytes + 63) / 64 * 64);
}

Variable Variable::make(Tensor out, std::vector<Variable> inputs, BackwardFn backward, const char* op,
                        const Saved& saved) {
  Variable v(std::move(out), false);
  if (!grad_enabled()) return v;
  bool any = false;
  for (const Variable& in : inputs) any = any || in.requires_grad();
  if (!any) return v;
  v.node_->requires_grad = true;
  v.node_->inputs = std::move(inputs);
  v.node_->backward = std::move(backward);
  v.node_->op = op;
  size_t total = saved.other_bytes, shared = 0;
  for (size_t i = 0; i < saved.tensors.size(); ++i) {
    const Tensor& t = saved.tensors[i];
    if (!t.defined()) continue;
    bool counted = false;  // the same buffer captured twice (mul(a, a)) is kept once
    for (size_t j = 0; j < i; ++j) counted = counted || t.shares_storage_with(saved.tensors[j]);
    if (counted) continue;
    const size_t b = allocated_bytes(t);
    total += b;
    bool graph_value = t.shares_storage_with(v.node_->data);
    for (const Variable& in : v.node_->inputs)
      graph_value = graph_value || (in.defined() && t.shares_storage_with(in.data()));
    if (graph_value) shared += b;
  }
  v.node_->saved_bytes = total;
  v.node_->saved_shared_bytes = shared;
  return v;
}

void Variable::backward(bool retain_graph) {
  CXR_CHECK(node_ && node_->data.numel() == 1, "backward() without a gradient needs a scalar, got shape ",
            to_string(node_->data.shape()));
  backward(Tensor::full(node_->data.shape(), 1.0f), retain_graph);
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) {
  CXR_CHECK(node_, "backward on an undefined Variable");
  CXR_CHECK(node_->requires_grad, "backward: this value does not require a gradient (no parameter or input "
                                  "below it requires one)");
  // Reverse topological order by an iterative depth-first search over nodes that require a gradient.
  // `order` owns its nodes: releasing a node's inputs below must not free a node still to be visited.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    std::shared_ptr<Node> n = stack.back().first;
    size_t i = stack.back().second;
    if (i < n->inputs.size()) {
      ++stack.back().second;
      const std::shared_ptr<Node>& child = n->inputs[i].node_;
      if (child && child->requires_grad && seen.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  accumulate_grad(grad_output);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = it->get();
    if (n->grad.defined()) {  // else no path carried a gradient here
      for (auto& hook : n->hooks) hook(n->grad);
      if (n->backward) {
        Tensor g = n->grad;
        if (!n->retain_grad) n->grad = Tensor();  // intermediate gradients die once used
        n->backward(g, n->inputs);
        if (!retain_graph) {
          n->backward = nullptr;
          n->inputs.clear();
          n->saved_bytes = n->saved_shared_bytes = 0;
        }
      }
    }
    // Every consumer of n came before it in this sweep, and each one that carried a gradient has dropped
    // its link, so unless the caller holds n (the logits) this usually frees its output now rather than
    // when backward returns: the activations of the upper layers are gone before the large gradients of
    // the lower ones are made.
    if (!retain_graph) it->reset();
  }
}

}  // namespace cxr
