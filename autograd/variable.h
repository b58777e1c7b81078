// Variable: a tensor that remembers how it was made, for reverse-mode automatic differentiation.
//
// Define-by-run: every op computes its output at once and, when some input requires a gradient (and grad
// mode is on), records a node: the inputs and a backward closure that keeps only what that backward needs
// (flashlight's style). backward() walks the recorded graph in reverse topological order and accumulates
// gradients into .grad() of every value that requires one.
//
//   Variable w(Tensor::zeros({3}), /*requires_grad=*/true);
//   Variable loss = sum(mul(w, x));
//   loss.backward();            // w.grad() now holds x
//
// Rules that keep backward lean:
//  - A value requires a gradient iff it is a leaf marked requires_grad, or some input of it requires one.
//    Ops skip the gradient of every input that does not require one (a frozen weight, the input image),
//    and nothing is recorded at all for values below which nothing requires a gradient.
//  - Intermediate gradients are freed as soon as they have been used, unless retain_grad() was called.
//  - The graph is released during backward, unless retain_graph: a node's closure (and the buffers it
//    holds) as soon as its backward has run, and its output as soon as every consumer's has, unless the
//    caller still holds that value.
//  - set_requires_grad(true) on an intermediate value cuts it from the graph below and makes it a leaf:
//    the explain module uses this to back-propagate only from the head down to a chosen layer.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr {

class Variable;

// grad_out: the gradient of the loss w.r.t. this node's output. The closure adds each input's gradient
// with inputs[i].accumulate_grad(), for the inputs where inputs[i].requires_grad().
using BackwardFn = std::function<void(const Tensor& grad_out, std::vector<Variable>& inputs)>;
using GradHook = std::function<void(const Tensor& grad)>;

struct Node {
  Tensor data;
  Tensor grad;
  bool requires_grad = false;
  bool retain_grad = false;
  std::vector<Variable> inputs;  // empty for leaves
  BackwardFn backward;           // null for leaves
  const char* op = "leaf";
  std::vector<GradHook> hooks;   // called once the node's gradient is complete
  // What `backward` keeps alive, as its op declared it to make() (write_dot draws it; 0 once released):
  // captured tensors at their allocated size (rounded up to 64 bytes, as core/allocator.h does) plus
  // buffers outside tensor storage (bit masks, int32 indices). `saved_shared_bytes` is the part that is
  // an input's or the output's own data: the graph holds those anyway (docs/AUTOGRAD.md, the caveat).
  size_t saved_bytes = 0;
  size_t saved_shared_bytes = 0;
};

// What an op's closure captures, for the byte counts above: the tensors, and the bytes of anything else.
struct Saved {
  std::vector<Tensor> tensors;  // undefined ones (a side that needs no gradient) count 0
  size_t other_bytes = 0;       // bit masks, index arrays: not tensor storage, so not in storage_use()
};

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return node_ != nullptr; }
  const Tensor& data() const { return node_->data; }
  Tensor& data() { return node_->data; }
  const Shape& shape() const { return node_->data.shape(); }
  int64_t size(int64_t d) const { return node_->data.size(d); }
  int64_t numel() const { return node_->data.numel(); }
  float item() const { return node_->data.item(); }

  const Tensor& grad() const { return node_->grad; }
  Tensor& grad() { return node_->grad; }
  bool has_grad() const { return node_->grad.defined(); }
  void zero_grad() { node_->grad = Tensor(); }

  bool requires_grad() const { return node_ && node_->requires_grad; }
  void set_requires_grad(bool r);  // on an intermediate value: becomes a leaf (see above)
  void retain_grad() { node_->retain_grad = true; }
  void register_hook(GradHook h) { node_->hooks.push_back(std::move(h)); }
  bool is_leaf() const { return !node_->backward; }
  const char* op() const { return node_->op; }

  // Back-propagates from this value: a scalar (gradient 1) or any value with a given gradient.
  void backward(bool retain_graph = false);
  void backward(const Tensor& grad_output, bool retain_graph = false);

  Variable detach() const { return Variable(node_->data, false); }  // shares data, no history

  // True when this handle is the only thing that holds the value and its data: no other Variable, no
  // recorded op (its inputs would hold it), no tensor sharing the storage (a backward closure that saved
  // it). Only then may an in-place op overwrite the data (ReLU(inplace) in layers/modules.h).
  bool sole_owner() const { return node_ && node_.use_count() == 1 && node_->data.storage_unique(); }

  // For op implementations: adds g to this value's gradient.
  void accumulate_grad(const Tensor& g);

  // For op implementations: wraps an op's output. Records the node (inputs + closure) only when grad mode
  // is on and some input requires a gradient; otherwise the closure is dropped at once.
  // `saved` declares what `backward` captured (Node::saved_bytes); ops that keep only shapes pass nothing.
  static Variable make(Tensor out, std::vector<Variable> inputs, BackwardFn backward, const char* op,
                       const Saved& saved = {});

  const Node* node() const { return node_.get(); }

 private:
  std::shared_ptr<Node> node_;
};

// Grad mode: on by default. While a NoGradGuard lives (on this thread), ops record nothing (inference).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool saved_;
};

}  // namespace cxr
