// Ablation-CAM (Ramaswamy & Desai, WACV 2020): channel k's weight is the share of the class score lost when
// channel k of the target activation is switched off, w_k = (y_c - y_c^(k)) / y_c. No gradients: copies of
// the activation, one channel zeroed in each, run through the head above the layer (Model::forward_after)
// under NoGradGuard, `batch` of them per head forward.
#include <algorithm>

#include "explain/cam.h"

namespace cxr {

AblationCamResult ablation_cam(Model& model, const LayerInfo& layer, const Tensor& A, const std::vector<int>& classes,
                               int batch) {
  check_dims(A, 3, "ablation_cam (activation)");
  CXR_CHECK(batch >= 1, "ablation_cam: batch ", batch, " must be at least 1");
  CXR_CHECK(!classes.empty(), "ablation_cam: no classes");
  const int64_t C = A.size(0), hw = A.size(1) * A.size(2);
  EvalModeGuard eval(model);  // dropout off, batch norm on running statistics; restored after
  NoGradGuard no_grad;

  // A channel that is zero everywhere changes nothing when zeroed: its weight is exactly 0, no forward.
  std::vector<int64_t> live;
  for (int64_t k = 0; k < C; ++k) {
    const float* a = A.data() + k * hw;
    if (std::any_of(a, a + hw, [](float v) { return v != 0.0f; })) live.push_back(k);
  }
  // Slot 0 of the first chunk is A itself: y_c comes from the head, as every y_c^(k) does, not from the full
  // forward's logits (the same value up to rounding).
  std::vector<int64_t> jobs{-1};
  jobs.insert(jobs.end(), live.begin(), live.end());
  const size_t nc = classes.size();
  AblationCamResult r;
  r.scores.assign(nc, 0.0f);
  std::vector<std::vector<float>> ablated(nc, std::vector<float>(static_cast<size_t>(C), 0.0f));
  for (size_t start = 0; start < jobs.size(); start += static_cast<size_t>(batch)) {
    const size_t end = std::min(jobs.size(), start + static_cast<size_t>(batch));
    const int64_t B = static_cast<int64_t>(end - start);
    Tensor x = Tensor::empty({B, A.size(0), A.size(1), A.size(2)});  // [B, C, h, w]
    for (int64_t b = 0; b < B; ++b) {
      float* dst = x.data() + b * C * hw;
      std::copy(A.data(), A.data() + C * hw, dst);
      const int64_t k = jobs[start + static_cast<size_t>(b)];
      if (k >= 0) std::fill(dst + k * hw, dst + (k + 1) * hw, 0.0f);
    }
    const Tensor logits = model.forward_after(layer.position, Variable(x)).data();  // [B, K]
    ++r.head_forwards;
    const int64_t K = logits.size(1);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t k = jobs[start + static_cast<size_t>(b)];
      for (size_t ci = 0; ci < nc; ++ci) {
        CXR_CHECK(classes[ci] >= 0 && classes[ci] < K, "ablation_cam: class ", classes[ci], " out of range for ",
                  K, " classes");
        const float y = logits[b * K + classes[ci]];
        if (k < 0) r.scores[ci] = y;
        else ablated[ci][static_cast<size_t>(k)] = y;
      }
    }
  }
  for (size_t ci = 0; ci < nc; ++ci) {
    const float y = r.scores[ci];
    Tensor w = Tensor::zeros({C});
    if (y != 0.0f)  // else undefined: zero weights, and explain_batch flags the map with the reason
      for (int64_t k : live) w[k] = (y - ablated[ci][static_cast<size_t>(k)]) / y;
    r.raws.push_back(weighted_sum(A, w));
    r.weights.push_back(w);
  }
  return r;
}

}  // namespace cxr
