#include "explain/guided.h"

#include <algorithm>
#include <cmath>

#include "explain/cam.h"
#include "layers/activation.h"

namespace cxr {

GuidedReluGuard::GuidedReluGuard(bool on) : saved_(guided_relu()) { set_guided_relu(on); }
GuidedReluGuard::~GuidedReluGuard() { set_guided_relu(saved_); }

std::vector<Tensor> guided_backprop(Model& model, const Tensor& batch, const std::vector<int>& classes, bool guided) {
  CaptureOptions opt;
  opt.gradients = false;
  opt.input_gradients = true;
  opt.guided = guided;
  return capture(model, batch, {}, classes, opt).input_gradients;
}

Tensor guided_gradcam(const Tensor& guided, const Tensor& map, Upsample mode) {
  check_dims(guided, 3, "guided_gradcam (guided gradient)");
  check_dims(map, 2, "guided_gradcam (map)");
  const int64_t C = guided.size(0), H = guided.size(1), W = guided.size(2);
  Tensor up = upsample_map(map, H, W, mode);
  Tensor out = Tensor::empty(guided.shape());
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) out[c * H * W + i] = guided[c * H * W + i] * up[i];
  return out;
}

Tensor guided_saliency(const Tensor& guided) {
  check_dims(guided, 3, "guided_saliency");
  const int64_t C = guided.size(0), HW = guided.size(1) * guided.size(2);
  Tensor out = Tensor::zeros({guided.size(1), guided.size(2)});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < HW; ++i) out[i] = std::max(out[i], std::fabs(guided[c * HW + i]));
  return out;
}

Tensor deprocess_gradient(const Tensor& g) {
  const int64_t n = g.numel();
  CXR_CHECK(n > 0, "deprocess_gradient: empty tensor");
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) s += g[i];
  const double mean = s / n;
  for (int64_t i = 0; i < n; ++i) s2 += (g[i] - mean) * (g[i] - mean);
  const double sd = std::sqrt(s2 / n);
  Tensor out = Tensor::empty(g.shape());
  for (int64_t i = 0; i < n; ++i) {
    const double v = (g[i] - mean) / (sd + 1e-5) * 0.1 + 0.5;
    out[i] = std::isfinite(v) ? static_cast<float>(std::clamp(v, 0.0, 1.0)) : 0.5f;
  }
  return out;
}

}  // namespace cxr
