// Drawing explanations: heatmaps, overlays on the ORIGINAL image at its own resolution, and panels.
//
// The model saw the whole original image resized to S x S (aspect ratio not kept, data/loader.h), so a map
// covers the whole original: it is upsampled straight to the original's height x width, whatever its
// aspect ratio, and blended there: overlay = (1 - alpha) * image + alpha * colormap(map) (the seed
// notebook's 0.5 / 0.5 by default). A degenerate map is never drawn as a heatmap: its heatmap is neutral
// grey with a "FLAT MAP" label, and its overlay is the image with that label.
//
// Panel: one PNG with four tiles of equal height, original | heatmap | overlay | guided Grad-CAM (the last
// only when the explanation has a guided gradient), under a title line with class, probability, method and
// layer, and a caption over each tile, drawn with the built-in bitmap font (explain/font.h).
#pragma once
#include <string>

#include "core/tensor.h"
#include "explain/cam.h"
#include "explain/colormap.h"
#include "explain/maps.h"

namespace cxr {

struct OverlayStyle {
  Colormap colormap = Colormap::Jet;
  float alpha = 0.5f;                      // heatmap weight in the overlay, in [0, 1]
  Upsample upsample = Upsample::Bilinear;  // map -> image resolution
};

// Any decoded image [C, H, W] (C = 1..4, values in [0, 1]) -> RGB [3, H, W] (gray repeated, alpha dropped).
Tensor display_rgb(const Tensor& image);
// Map [h, w] in [0, 1] -> coloured [3, H, W].
Tensor heatmap_image(const Tensor& map, int64_t H, int64_t W, const OverlayStyle& style = {});
// Neutral grey [3, H, W] with `label` centred: what a degenerate map is drawn as.
Tensor flat_heatmap(int64_t H, int64_t W, const std::string& label = "FLAT MAP");
// (1 - alpha) * display_rgb(image) + alpha * heat; heat is [3, H, W] at the image's size.
Tensor blend(const Tensor& image, const Tensor& heat, float alpha);

struct Rendered {
  Tensor heatmap;  // [3, H, W]
  Tensor overlay;  // [3, H, W]
  Tensor guided;   // [C, H, W] deprocessed guided gradient at the image's size, when the explanation has one
};
// An explanation drawn on its original image [C, H, W] (any size): everything at the image's resolution.
Rendered render(const Explanation& e, const Tensor& original, const OverlayStyle& style = {});

// "COVID19 P=0.973  GRADCAM  FEATURES.29 (RELU5_3)" (+ "COUNTERFACTUAL", + "FLAT MAP").
std::string panel_title(const Explanation& e);
// The panel described above, tiles `tile_height` pixels high. [3, H, W].
Tensor make_panel(const Explanation& e, const Tensor& original, const OverlayStyle& style = {},
                  const std::string& title = "", int tile_height = 256);

}  // namespace cxr
