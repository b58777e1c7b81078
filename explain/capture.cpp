// capture(): the one forward pass and the short per-class backward passes every gradient method needs.
//
// How the backward is kept short: a forward hook on the lowest target layer replaces that layer's output by
// a fresh leaf Variable holding the same data (requires_grad = true). With every parameter frozen for the
// call, nothing below that leaf requires a gradient, so the forward records no graph there (it runs as
// inference does), and backward() from the logits stops at the leaf. Higher target layers keep their
// place in the graph and only retain their gradient.
//
// Guided backprop needs the gradient down to the input, so then the input requires a gradient and the
// lowest layer's ORIGINAL output (with its graph down to the input) is kept aside: the head's backward
// reaches the leaf, and original.backward(leaf.grad) continues it to the input. Both halves run with
// guided ReLUs, so the result is exactly one guided backward through the whole network, while the plain
// head-only backward for the CAM shares the same forward.
#include <algorithm>
#include <numeric>

#include "core/argmax.h"
#include "explain/cam.h"
#include "explain/guided.h"

namespace cxr {

namespace {

// Switches requires_grad off on every parameter, and back to what it was afterwards: no weight gradient.
class FrozenParameters {
 public:
  explicit FrozenParameters(Model& m) {
    for (Variable* p : m.parameters()) {
      saved_.push_back({p, p->requires_grad()});
      p->set_requires_grad(false);
    }
  }
  ~FrozenParameters() {
    for (auto& [p, r] : saved_) p->set_requires_grad(r);
  }

 private:
  std::vector<std::pair<Variable*, bool>> saved_;
};

class HookSet {
 public:
  void add(Module* m, Module::ForwardHook h) { ids_.push_back({m, m->add_forward_hook(std::move(h))}); }
  void clear() {
    for (auto& [m, id] : ids_) m->remove_forward_hook(id);
    ids_.clear();
  }
  ~HookSet() { clear(); }

 private:
  std::vector<std::pair<Module*, int>> ids_;
};

// [N, K] gradient seed: sign at (n, targets[n]).
Tensor one_hot(const std::vector<int>& targets, int64_t K, float sign) {
  const int64_t N = static_cast<int64_t>(targets.size());
  Tensor t = Tensor::zeros({N, K});
  for (int64_t n = 0; n < N; ++n) t[n * K + targets[static_cast<size_t>(n)]] = sign;
  return t;
}

}  // namespace

Capture capture(Model& model, const Tensor& batch, const std::vector<LayerInfo>& layers,
                const std::vector<int>& classes, const CaptureOptions& opt) {
  const bool resume = opt.start_activation.defined();
  const size_t L = layers.size();
  if (resume) {
    CXR_CHECK(!opt.input_gradients, "explain: input gradients need the whole forward, not a resumed one");
    CXR_CHECK(opt.start_position < model.layers().size(), "explain: no layer at position ", opt.start_position);
    for (const LayerInfo& l : layers)
      CXR_CHECK(l.position > opt.start_position, "explain: layer ", display_name(l),
                " lies below the activation the forward resumes from");
  } else {
    CXR_CHECK(batch.defined(), "explain: undefined input batch");
    model.check_input(batch.shape());
  }
  for (size_t i = 0; i < L; ++i)
    for (size_t j = i + 1; j < L; ++j)
      CXR_CHECK(layers[i].position != layers[j].position, "explain: layer ", display_name(layers[i]),
                " is named twice");
  const bool layer_grads = opt.gradients && L > 0;
  const bool need_backward = layer_grads || opt.input_gradients;
  size_t lowest = L;  // index (into layers) of the lowest target layer
  for (size_t i = 0; i < L; ++i)
    if (lowest == L || layers[i].position < layers[lowest].position) lowest = i;

  EvalModeGuard eval(model);
  FrozenParameters frozen(model);

  Capture cap;
  cap.layers = layers;
  cap.activations.resize(L);
  std::vector<Variable> marked(L);  // the Variables whose gradients are read
  Variable original;                // the lowest layer's own output, with its graph to the input (guided)
  HookSet hooks;
  for (size_t i = 0; i < L; ++i) {
    hooks.add(layers[i].module, [&, i](Module&, Variable& out) {
      CXR_CHECK(out.data().dim() == 4, "explain: layer ", display_name(layers[i]), " gives ", to_string(out.shape()),
                ": class activation maps need a spatial [N, C, h, w] activation; choose a layer of features "
                "(conv*, relu*, pool*) or avgpool");
      cap.activations[i] = out.data();
      if (!need_backward) return;
      if (i == lowest) {
        if (opt.input_gradients) original = out;
        out = Variable(out.data(), /*requires_grad=*/true);  // the head's backward stops here
      } else {
        out.retain_grad();
      }
      marked[i] = out;
    });
  }

  Variable x(resume ? opt.start_activation : batch, opt.input_gradients);
  auto run = [&] { return resume ? model.forward_after(opt.start_position, x) : model.forward(x); };
  Variable logits;
  if (need_backward) {
    logits = run();
  } else {
    NoGradGuard no_grad;
    logits = run();
  }
  hooks.clear();
  cap.logits = logits.data();
  const int64_t N = cap.logits.size(0), K = cap.logits.size(1);

  if (classes.empty()) {
    std::vector<int> pred(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) {
      const float* row = cap.logits.data() + n * K;
      pred[static_cast<size_t>(n)] = argmax(row, K);
    }
    cap.targets.push_back(pred);
  } else {
    for (int c : classes) {
      CXR_CHECK(c >= 0 && c < K, "explain: class index ", c, " out of range for a model with ", K, " classes");
      cap.targets.push_back(std::vector<int>(static_cast<size_t>(N), c));
    }
  }
  if (!need_backward) return cap;
  CXR_CHECK(logits.requires_grad(), "explain: the logits do not depend on the target layer(s)");
  if (opt.on_graph) opt.on_graph(logits, original);

  const size_t slots = cap.targets.size();
  if (layer_grads) cap.gradients.resize(slots);
  if (opt.input_gradients) cap.input_gradients.resize(slots);
  for (size_t s = 0; s < slots; ++s) {
    const bool last = s + 1 == slots;
    if (layer_grads) {
      for (auto& v : marked) v.zero_grad();
      const float sign = opt.counterfactual ? -1.0f : 1.0f;
      logits.backward(one_hot(cap.targets[s], K, sign), /*retain_graph=*/!last || opt.input_gradients);
      for (size_t i = 0; i < L; ++i)
        cap.gradients[s].push_back(marked[i].has_grad() ? marked[i].grad() : Tensor::zeros(marked[i].shape()));
    }
    if (opt.input_gradients) {
      x.zero_grad();
      for (auto& v : marked) v.zero_grad();
      GuidedReluGuard guided(opt.guided);
      logits.backward(one_hot(cap.targets[s], K, 1.0f), /*retain_graph=*/!last);
      if (L > 0) {
        Variable& leaf = marked[lowest];
        if (leaf.has_grad()) original.backward(leaf.grad(), /*retain_graph=*/!last);
      }
      cap.input_gradients[s] = x.has_grad() ? x.grad() : Tensor::zeros(batch.shape());
    }
  }
  return cap;
}

}  // namespace cxr
