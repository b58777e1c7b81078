#include "explain/overlay.h"

#include <algorithm>
#include <cmath>

#include "explain/font.h"
#include "explain/guided.h"
#include "image/transform.h"

namespace cxr {

namespace {

constexpr float kWhite[3] = {1.0f, 1.0f, 1.0f};
constexpr float kGrey[3] = {0.5f, 0.5f, 0.5f};
constexpr float kDark[3] = {0.12f, 0.12f, 0.12f};
constexpr float kBanner[3] = {0.25f, 0.25f, 0.25f};

// Largest font scale at which `text` fits in `w` pixels (at least 1).
int fit_scale(const std::string& text, int64_t w, int max_scale) {
  int s = max_scale;
  while (s > 1 && text_width(text, s) > w) --s;
  return s;
}

void label_center(Tensor& img, const std::string& text, int max_scale) {
  const int64_t H = img.size(1), W = img.size(2);
  const int s = fit_scale(text, W - 4, std::max(1, max_scale));
  const int64_t tw = text_width(text, s), th = text_height(s);
  const int64_t x = (W - tw) / 2, y = (H - th) / 2;
  fill_rect(img, x - 2 * s, y - 2 * s, tw + 4 * s, th + 4 * s, kBanner);
  draw_text(img, x, y, text, s, kWhite);
}

}  // namespace

Tensor display_rgb(const Tensor& image) {
  check_dims(image, 3, "display_rgb");
  return image::to_rgb(image);
}

Tensor heatmap_image(const Tensor& map, int64_t H, int64_t W, const OverlayStyle& style) {
  check_dims(map, 2, "heatmap_image");
  Tensor up = upsample_map(map, H, W, style.upsample);
  return apply_colormap(up, style.colormap);  // bicubic overshoot is clamped by the colormap
}

Tensor flat_heatmap(int64_t H, int64_t W, const std::string& label) {
  Tensor img = Tensor::full({3, H, W}, kGrey[0]);
  label_center(img, label, static_cast<int>(std::max<int64_t>(1, std::min(H, W) / 64)));
  return img;
}

Tensor blend(const Tensor& image, const Tensor& heat, float alpha) {
  CXR_CHECK(alpha >= 0.0f && alpha <= 1.0f, "overlay: alpha ", alpha, " must be in [0, 1]");
  Tensor rgb = display_rgb(image);
  check_same_shape(rgb, heat, "overlay (image vs heatmap)");
  Tensor out = Tensor::empty(rgb.shape());
  const int64_t n = out.numel();
  const float* a = rgb.data();
  const float* b = heat.data();
  float* o = out.data();
  for (int64_t i = 0; i < n; ++i) o[i] = (1.0f - alpha) * a[i] + alpha * b[i];
  return out;
}

Rendered render(const Explanation& e, const Tensor& original, const OverlayStyle& style) {
  check_dims(original, 3, "render (original image)");
  const int64_t H = original.size(1), W = original.size(2);
  Rendered r;
  if (e.degenerate) {
    r.heatmap = flat_heatmap(H, W);
    r.overlay = display_rgb(original);
    label_center(r.overlay, "FLAT MAP", static_cast<int>(std::max<int64_t>(1, std::min(H, W) / 64)));
  } else {
    r.heatmap = heatmap_image(e.map, H, W, style);
    r.overlay = blend(original, r.heatmap, style.alpha);
  }
  if (e.guided.defined()) r.guided = upsample_map(deprocess_gradient(e.guided), H, W, Upsample::Bilinear);
  return r;
}

std::string panel_title(const Explanation& e) {
  char p[32];
  std::snprintf(p, sizeof(p), "%.3f", e.probability);
  std::string t = e.class_name + " P=" + p + "  " + method_name(e.method) + (e.counterfactual ? " COUNTERFACTUAL" : "") + "  " +
                  e.layer;
  if (e.degenerate) t += "  FLAT MAP";
  return t;
}

Tensor make_panel(const Explanation& e, const Tensor& original, const OverlayStyle& style, const std::string& title,
                  int tile_height) {
  check_dims(original, 3, "make_panel (original image)");
  CXR_CHECK(tile_height >= 16, "make_panel: tile height ", tile_height, " is too small");
  const int64_t H0 = original.size(1), W0 = original.size(2);
  const int64_t th = tile_height;
  const int64_t tw = std::max<int64_t>(16, std::llround(static_cast<double>(W0) * th / H0));
  // Tiles drawn at tile size directly (cheaper and sharper than shrinking the full-size renderings).
  Tensor small_orig = image::resize(original, th, tw, /*antialias=*/true);
  Tensor orig = display_rgb(small_orig);
  Explanation tile_e = e;
  tile_e.guided = Tensor();
  Rendered r = render(tile_e, small_orig, style);
  std::vector<std::pair<std::string, Tensor>> tiles = {
      {"ORIGINAL", orig}, {"HEATMAP", r.heatmap}, {"OVERLAY", r.overlay}};
  if (e.guided.defined()) {
    Tensor g = upsample_map(deprocess_gradient(e.guided), th, tw, Upsample::Bilinear);
    tiles.push_back({e.method == CamMethod::Guided ? "GUIDED BACKPROP" : "GUIDED GRAD-CAM", display_rgb(g)});
  }
  const int64_t margin = 8, n = static_cast<int64_t>(tiles.size());
  const int64_t W = margin + n * (tw + margin);
  const std::string head = title.empty() ? panel_title(e) : title;
  const int ts = fit_scale(head, W - 2 * margin, 2);
  const int cs = fit_scale("GUIDED GRAD-CAM", tw, 2);
  const int64_t title_h = text_height(ts) + 2 * margin, cap_h = text_height(cs) + margin;
  const int64_t H = title_h + cap_h + th + margin;
  Tensor panel = Tensor::empty({3, H, W});
  fill_rect(panel, 0, 0, W, H, kDark);
  draw_text(panel, margin, margin, head, ts, kWhite);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = margin + i * (tw + margin), y0 = title_h + cap_h;
    const std::string& cap = tiles[static_cast<size_t>(i)].first;
    draw_text(panel, x0 + (tw - text_width(cap, cs)) / 2, title_h, cap, cs, kWhite);
    const Tensor& t = tiles[static_cast<size_t>(i)].second;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < th; ++y)
        std::copy(t.data() + (c * th + y) * tw, t.data() + (c * th + y + 1) * tw,
                  panel.data() + (c * H + y0 + y) * W + x0);
  }
  return panel;
}

}  // namespace cxr
