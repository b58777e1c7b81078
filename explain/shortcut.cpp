#include "explain/shortcut.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>


namespace cxr {

int default_shortcut_band(int size) { return std::max(static_cast<int>(std::ceil(0.2 * size)), 10); }

Tensor border_band(int64_t H, int64_t W, int band) {
  CXR_CHECK(H > 0 && W > 0 && band >= 0, "border_band: bad size ", H, "x", W, " or band ", band);
  Tensor m = Tensor::empty({H, W});
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const int64_t d = std::min(std::min(y, H - 1 - y), std::min(x, W - 1 - x));
      m[y * W + x] = d < band ? 1.0f : 0.0f;
    }
  return m;
}

ShortcutScore shortcut_score(const Tensor& map, const Tensor& lung, const ShortcutOptions& opt) {
  CXR_CHECK(map.defined() && map.dim() == 2, "shortcut_score: map must be [H, W], got ",
            map.defined() ? to_string(map.shape()) : "undefined");
  const int64_t H = map.size(0), W = map.size(1);
  ShortcutScore s;
  s.with_lungs = lung.defined();
  if (s.with_lungs)
    CXR_CHECK(lung.shape() == map.shape(), "shortcut_score: lung mask ", to_string(lung.shape()),
              " must have the map's shape ", to_string(map.shape()));
  const int band = opt.band >= 0 ? opt.band : default_shortcut_band(static_cast<int>(std::max(H, W)));
  const Tensor band_mask = border_band(H, W, band);
  double total = 0.0, in_band = 0.0, out_lung = 0.0, suspect = 0.0;
  int64_t peak = -1;
  for (int64_t i = 0; i < map.numel(); ++i) {
    const double v = std::isfinite(map[i]) ? std::max(0.0f, map[i]) : 0.0;
    const bool b = band_mask[i] != 0.0f, outside = s.with_lungs && lung[i] == 0.0f;
    total += v;
    if (b) in_band += v;
    if (outside) out_lung += v;
    if (s.with_lungs ? (b && outside) : b) suspect += v;
    if (v > 0.0 && (peak < 0 || map[i] > map[peak])) peak = i;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!(total > 0.0)) {
    s.border = s.outside_lung = s.suspect = nan;
    return s;
  }
  s.border = in_band / total;
  s.outside_lung = s.with_lungs ? out_lung / total : nan;
  s.suspect = suspect / total;
  s.peak_in_band = band_mask[peak] != 0.0f;
  const double threshold = s.with_lungs ? opt.threshold_with_lungs : opt.threshold_without_lungs;
  s.flagged = s.suspect >= threshold && s.peak_in_band;
  return s;
}

std::vector<size_t> rank_by_suspicion(const std::vector<ShortcutScore>& scores) {
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  auto key = [&](size_t i) { return std::isnan(scores[i].suspect) ? -1.0 : scores[i].suspect; };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return key(a) > key(b); });
  return idx;
}

}  // namespace cxr
