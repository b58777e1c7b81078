// Shortcut finder: images whose explanation sits where no disease can be, outside the lungs in the image's
// border band, where burned-in markers, rulers and text live (the COVID-19 shortcut of DeGrave et al.
// 2021, Nature Machine Intelligence). `cxr synth --shortcut-rate` plants exactly such markers.
//
// Per image, with the map made non-negative (max(map, 0)) and E its total:
//   border        share of E in the border band: pixels within `band` of any image edge. By default
//                 default_shortcut_band(size) = max(ceil(0.2 * size), 10) pixels: the band where radiographs
//                 carry their side markers and text, and the one `cxr synth` burns its markers into
//                 (data::marker_band_px, which tests/test_xai_metrics.cpp holds equal to it).
//   outside_lung  share of E outside the lung mask (when one is known)
//   suspect       the share the rule reads: with a lung mask, the share in the band AND outside the lungs
//                 (lesions sit inside the lungs, and the lungs reach into the band, so neither the band nor
//                 "outside the lungs" alone separates a marker from a peripheral COVID-19 opacity); without
//                 one, the border share.
// Rule: flagged when suspect >= threshold AND the map's maximum lies in the border band (its single strongest
// point is out there, not merely a diffuse spill). Thresholds: 0.5 with a lung mask (half of the evidence is
// off the lungs in the band); 0.9 without (the band is 64% of the image, so a flat map already puts 0.64
// there, and peripheral COVID-19 opacities put up to ~0.98 of a sharp lesion map there: without lungs the
// rule is a weak one). A degenerate map (no positive value) is never flagged. The ranked list sorts every
// image by suspect, highest first.
// Measured on `cxr synth` COVID19 / PNEUMONIA images with the marker (128 px, 60 each), with maps that are
// the marker (or lesion) mask blurred by sigma 3, 6 and 10 px: with lung masks 93% / 96% of the marker maps
// are flagged and no lesion map; the misses are markers burned over lung tissue (the band overlaps the
// lateral lung edges), which no rule on position can tell from a peripheral lesion. Without lung masks:
// 80% / 82% of the marker maps and 6% / 0% of the lesion maps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr {

// The border band of an image `size` pixels across: max(ceil(0.2 * size), 10) pixels (see above).
int default_shortcut_band(int size);

struct ShortcutOptions {
  int band = -1;  // pixels; < 0: default_shortcut_band(max(H, W))
  double threshold_with_lungs = 0.5;
  double threshold_without_lungs = 0.9;
};

struct ShortcutScore {
  double border = 0.0;        // NaN for a map without positive values
  double outside_lung = 0.0;  // NaN without a lung mask
  double suspect = 0.0;       // what the rule reads (see above)
  bool peak_in_band = false;  // the map's maximum lies in the border band
  bool with_lungs = false;
  bool flagged = false;
};

// map [H, W]; lung_mask [H, W] binary, or an undefined Tensor when unknown.
ShortcutScore shortcut_score(const Tensor& map, const Tensor& lung_mask, const ShortcutOptions& opt = {});
// The band mask [H, W]: 1 within `band` pixels of an edge.
Tensor border_band(int64_t height, int64_t width, int band);
// Indices of scores sorted by suspect, highest first (NaN last; ties in index order).
std::vector<size_t> rank_by_suspicion(const std::vector<ShortcutScore>& scores);

}  // namespace cxr
