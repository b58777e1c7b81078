// Score-CAM (Wang et al. 2020, arXiv 1910.01279): channel weights from how much each channel, used as a
// mask on the input, alone keeps of the class's probability. No gradients; C extra forwards per image.
#include <algorithm>
#include <cmath>

#include "explain/cam.h"
#include "layers/loss.h"

namespace cxr {

std::vector<Tensor> score_cam(Model& model, const Tensor& image, const Tensor& A, const std::vector<int>& classes,
                              int batch) {
  check_dims(image, 3, "score_cam (image)");
  check_dims(A, 3, "score_cam (activation)");
  CXR_CHECK(batch >= 1, "score_cam: batch ", batch, " must be at least 1");
  CXR_CHECK(!classes.empty(), "score_cam: no classes");
  const int64_t Cin = image.size(0), S_h = image.size(1), S_w = image.size(2), HW = S_h * S_w;
  const int64_t C = A.size(0);
  EvalModeGuard eval(model);  // dropout off, batch norm on running statistics; restored after
  NoGradGuard no_grad;

  // Upsample every channel to the input and min-max scale it to [0, 1]; a constant channel masks
  // everything (an all-zero mask: pytorch-grad-cam's (x - min) / (max - min + 1e-8) gives the same).
  std::vector<Tensor> masks(static_cast<size_t>(C));
  std::vector<int64_t> live;  // channels with a non-constant mask
  for (int64_t k = 0; k < C; ++k) {
    Tensor plane = A.slice(k, k + 1).reshape({A.size(1), A.size(2)});
    Tensor up = upsample_map(plane, S_h, S_w, Upsample::Bilinear);
    const auto [lo, hi] = std::minmax_element(up.data(), up.data() + HW);
    if (*hi > *lo && std::isfinite(*hi) && std::isfinite(*lo)) {
      masks[static_cast<size_t>(k)] = minmax_scale(up);
      live.push_back(k);
    }
  }
  const size_t nc = classes.size();
  std::vector<std::vector<float>> weight(nc, std::vector<float>(static_cast<size_t>(C), 0.0f));
  auto run = [&](const Tensor& x, const std::vector<int64_t>& channels) {
    Tensor p = softmax(model.forward(Variable(x)).data());
    const int64_t K = p.size(1);
    for (size_t b = 0; b < channels.size(); ++b)
      for (size_t ci = 0; ci < nc; ++ci)
        weight[ci][static_cast<size_t>(channels[b])] = p[static_cast<int64_t>(b) * K + classes[ci]];
  };
  if (static_cast<int64_t>(live.size()) < C) {  // the all-zero mask, once
    std::vector<int64_t> flat;
    for (int64_t k = 0; k < C; ++k)
      if (!masks[static_cast<size_t>(k)].defined()) flat.push_back(k);
    Tensor p = softmax(model.forward(Variable(Tensor::zeros({1, Cin, S_h, S_w}))).data());
    for (int64_t k : flat)
      for (size_t ci = 0; ci < nc; ++ci) weight[ci][static_cast<size_t>(k)] = p[classes[ci]];
  }
  for (size_t start = 0; start < live.size(); start += static_cast<size_t>(batch)) {
    const size_t end = std::min(live.size(), start + static_cast<size_t>(batch));
    std::vector<int64_t> chunk(live.begin() + static_cast<std::ptrdiff_t>(start),
                               live.begin() + static_cast<std::ptrdiff_t>(end));
    Tensor x = Tensor::empty({static_cast<int64_t>(chunk.size()), Cin, S_h, S_w});
    for (size_t b = 0; b < chunk.size(); ++b) {
      const float* m = masks[static_cast<size_t>(chunk[b])].data();
      for (int64_t c = 0; c < Cin; ++c) {
        const float* src = image.data() + c * HW;
        float* dst = x.data() + (static_cast<int64_t>(b) * Cin + c) * HW;
        for (int64_t i = 0; i < HW; ++i) dst[i] = src[i] * m[i];
      }
    }
    run(x, chunk);
  }
  std::vector<Tensor> out;
  for (size_t ci = 0; ci < nc; ++ci) {
    Tensor w = Tensor::from(weight[ci], {C});
    out.push_back(weighted_sum(A, w));
  }
  return out;
}

}  // namespace cxr
