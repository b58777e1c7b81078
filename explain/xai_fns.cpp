#include "explain/xai_fns.h"

#include <algorithm>

#include "explain/guided.h"
#include "explain/maps.h"
#include "layers/loss.h"

namespace cxr {

ScoreFn model_score_fn(Model& model, int batch) {
  CXR_CHECK(batch >= 1, "model_score_fn: batch ", batch, " must be at least 1");
  return [&model, batch](const Tensor& images) {
    CXR_CHECK(images.defined() && images.dim() == 4, "score function: images must be [N, C, S, S], got ",
              images.defined() ? to_string(images.shape()) : "undefined");
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    const int64_t N = images.size(0);
    Tensor out;
    try {
      for (int64_t b = 0; b < N; b += batch) {
        const int64_t e = std::min(N, b + batch);
        Tensor p = softmax(model.forward(Variable(images.slice(b, e))).data());
        if (!out.defined()) out = Tensor::empty({N, p.size(1)});
        std::copy(p.data(), p.data() + p.numel(), out.data() + b * p.size(1));
      }
    } catch (...) {
      if (was_training) model.train();
      throw;
    }
    if (was_training) model.train();
    return out;
  };
}

std::vector<Explanation> explain_for_classes(Model& model, const Tensor& images, const ExplainRequest& request,
                                             const std::vector<int>& classes, Tensor* probabilities) {
  CXR_CHECK(images.defined() && images.dim() == 4, "explain_for_classes: images must be [N, C, S, S], got ",
            images.defined() ? to_string(images.shape()) : "undefined");
  const int64_t N = images.size(0);
  ExplainRequest req = request;
  req.classes.clear();
  if (!classes.empty()) {
    CXR_ASSERT(static_cast<int64_t>(classes.size()) == N, "explain_for_classes: ", classes.size(),
              " classes for a batch of ", N, " images");
    std::vector<int> distinct = classes;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    req.classes = distinct;
  }
  auto res = explain_batch(model, images, req, probabilities);
  std::vector<Explanation> out;
  out.reserve(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    auto& per = res[static_cast<size_t>(n)];
    size_t slot = 0;
    if (!classes.empty())
      for (size_t s = 0; s < per.size(); ++s)
        if (per[s].class_index == classes[static_cast<size_t>(n)]) slot = s;
    out.push_back(std::move(per[slot]));
  }
  return out;
}

Tensor input_map(const Explanation& e, int64_t height, int64_t width) {
  if (e.degenerate) return Tensor::zeros({height, width});
  // Guided Grad-CAM's explanation is the product image (guided gradient x upsampled CAM), not the CAM it
  // is weighted by: measure its per-pixel strength, max |value| over channels, as guided backprop's own map.
  if (e.method == CamMethod::GuidedGradCAM && e.guided.defined() && e.guided.dim() == 3 && e.guided.size(1) == height &&
      e.guided.size(2) == width)
    return normalize_map(guided_saliency(e.guided), /*relu=*/false);
  if (e.map.size(0) == height && e.map.size(1) == width) return e.map.clone();
  return map_at_input(e, height, width, Upsample::Bilinear);
}

MapFn cam_map_fn(Model& model, const ExplainRequest& request, std::vector<int> classes) {
  return [&model, request, classes = std::move(classes)](const Tensor& images) {
    std::vector<Explanation> ex = explain_for_classes(model, images, request, classes);
    const int64_t N = images.size(0), H = images.size(2), W = images.size(3);
    Tensor maps = Tensor::empty({N, H, W});
    for (int64_t n = 0; n < N; ++n) {
      Tensor m = input_map(ex[static_cast<size_t>(n)], H, W);
      std::copy(m.data(), m.data() + H * W, maps.data() + n * H * W);
    }
    return maps;
  };
}

}  // namespace cxr
