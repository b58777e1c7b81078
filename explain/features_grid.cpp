#include "explain/features_grid.h"

#include <algorithm>
#include <cmath>

#include "explain/cam.h"
#include "explain/maps.h"

namespace cxr {

int64_t grid_channels(int64_t channels, const GridOptions& o) {
  return std::min<int64_t>(channels, std::max(1, o.max_channels));
}

int64_t grid_columns(int64_t shown) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(shown)))));
}

Tensor channel_grid(const Tensor& act, const GridOptions& o) {
  check_dims(act, 3, "channel_grid");
  CXR_CHECK(act.numel() > 0, "channel_grid: empty activation ", to_string(act.shape()));
  const int64_t C = act.size(0), h = act.size(1), w = act.size(2);
  const int64_t n = grid_channels(C, o), cols = grid_columns(n), rows = (n + cols - 1) / cols;
  const int64_t scale = std::max<int64_t>(1, (o.min_cell + std::min(h, w) - 1) / std::min(h, w));
  const int64_t ch = h * scale, cw = w * scale, gap = std::max(0, o.gap);
  const int64_t H = rows * ch + (rows + 1) * gap, W = cols * cw + (cols + 1) * gap;
  Tensor grid = Tensor::full({3, H, W}, 0.25f);  // grey gaps
  for (int64_t k = 0; k < n; ++k) {
    Tensor plane = minmax_scale(act.slice(k, k + 1).reshape({h, w}));
    const int64_t y0 = gap + (k / cols) * (ch + gap), x0 = gap + (k % cols) * (cw + gap);
    for (int64_t y = 0; y < ch; ++y)
      for (int64_t x = 0; x < cw; ++x) {
        float rgb[3] = {0.0f, 0.0f, 0.0f};
        colormap_rgb(o.colormap, plane[(y / scale) * w + x / scale], rgb);
        for (int c = 0; c < 3; ++c) grid[(c * H + y0 + y) * W + x0 + x] = rgb[c];
      }
  }
  return grid;
}

std::vector<LayerInfo> feature_layers(Model& model, const std::string& spec) {
  std::vector<LayerInfo> table = layer_table(model), out;
  if (spec == "all") {
    for (const LayerInfo& l : table)
      if (l.section == "features" || l.section == "avgpool") out.push_back(l);
    return out;
  }
  if (!spec.empty()) {
    out = resolve_target_layers(model, {spec});
    for (const LayerInfo& l : out)
      CXR_CHECK(l.section == "features" || l.section == "avgpool", "layer ", display_name(l), " has no channels "
                "to draw: choose a layer of features (conv*, relu*, pool*) or avgpool");
    return out;
  }
  // The last ReLU before each max-pool.
  const LayerInfo* last_relu = nullptr;
  for (const LayerInfo& l : table) {
    if (l.section != "features") continue;
    if (dynamic_cast<ReLU*>(l.module)) last_relu = &l;
    if (dynamic_cast<MaxPool2d*>(l.module) && last_relu) {
      out.push_back(*last_relu);
      last_relu = nullptr;
    }
  }
  if (last_relu) out.push_back(*last_relu);
  CXR_CHECK(!out.empty(), model.name(), ": no ReLU layers in features");
  return out;
}

std::vector<Tensor> layer_activations(Model& model, const Tensor& x, const std::vector<LayerInfo>& layers) {
  CXR_CHECK(x.dim() == 4 && x.size(0) == 1, "layer_activations: expected one image [1, C, S, S], got ",
            to_string(x.shape()));
  CaptureOptions opt;
  opt.gradients = false;
  Capture cap = capture(model, x, layers, {}, opt);
  std::vector<Tensor> out;
  for (const Tensor& a : cap.activations) out.push_back(a.reshape({a.size(1), a.size(2), a.size(3)}));
  return out;
}

}  // namespace cxr
