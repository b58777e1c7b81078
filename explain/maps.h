// Explanation maps: the 2-D float maps every method produces, and what is done with them before drawing.
//
//   raw     the method's signed map at the target layer's resolution (e.g. 14x14 for VGG-16 relu5_3 at 224);
//           Grad-CAM's sum_k alpha_k A_k before the ReLU. Saved as .npy with --save-raw.
//   map     normalize_map(raw): ReLU, then min-max to [0, 1]. What heatmaps draw.
//   degenerate  a map that cannot be drawn honestly: non-finite values, a constant map, or nothing left
//           after the ReLU. Min-max would blow rounding noise up to a full-contrast heatmap, so such maps are
//           flagged and drawn as a neutral grey "flat map" instead (explain/overlay.h).
//
// Upsampling follows torch.nn.functional.interpolate with align_corners=False, so maps line up with
// PyTorch tools: pixel centres at i + 0.5, source coordinate (i + 0.5) * in / out - 0.5,
//   bilinear  clamped at 0 below, neighbours clamped at the edge;
//   bicubic   Keys' cubic convolution with a = -0.75 (torch's), neighbours clamped at the edge;
//   nearest   source index floor(i * in / out) (torch's "nearest", not "nearest-exact").
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace cxr {

enum class Upsample { Nearest, Bilinear, Bicubic };

Upsample parse_upsample(const std::string& name);  // "nearest" | "bilinear" | "bicubic"; throws otherwise
const char* upsample_name(Upsample u);

// [h, w] -> [out_h, out_w], or [C, h, w] -> [C, out_h, out_w] (each plane alike). Serial on purpose:
// maps are small, and it runs next to multithreaded OpenBLAS calls (see layers/im2col.h).
Tensor upsample_map(const Tensor& map, int64_t out_h, int64_t out_w, Upsample mode = Upsample::Bilinear);

struct Degeneracy {
  bool degenerate = false;
  std::string reason;  // empty when not degenerate
};

// For a signed CAM (relu = true): degenerate when any value is NaN/Inf ("non-finite values"), when every
// value is <= 0 ("all values <= 0: no positive evidence"), or when what survives the ReLU is constant up to
// a relative 1e-6 of its largest magnitude ("constant map"). With relu = false the map is taken as it is
// (e.g. |gradient| saliency) and only the non-finite and constant tests apply.
Degeneracy check_map(const Tensor& raw, bool relu = true);

// max(raw, 0), min-max scaled to [0, 1]; all zeros when check_map calls it degenerate. Same shape as raw.
Tensor normalize_map(const Tensor& raw, bool relu = true);
// Plain min-max to [0, 1] (no ReLU); all zeros for a constant or non-finite tensor.
Tensor minmax_scale(const Tensor& t);

}  // namespace cxr
