// Colormaps: a value in [0, 1] -> an RGB colour, for drawing explanation maps.
//
//   jet      matplotlib's jet (the seed notebook's cv2.COLORMAP_JET look): jet(0) dark blue (0, 0, 0.5),
//            jet(1) dark red (0.5, 0, 0). Piecewise linear, from matplotlib's segment data.
//   turbo    Google's turbo (a jet without jet's false bands): 17 knots of the published 256-entry table,
//            linearly interpolated (within about 0.01 of the table).
//   inferno  matplotlib's perceptually uniform inferno (black -> purple -> orange -> pale yellow), likewise
//            17 knots of its table. Prints well in grey.
//   gray     v -> (v, v, v).
// Values outside [0, 1] are clamped; NaN draws as 0.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr {

enum class Colormap { Jet, Turbo, Inferno, Gray };

Colormap parse_colormap(const std::string& name);  // throws listing the names
const char* colormap_name(Colormap c);
const std::vector<std::string>& colormap_names();

void colormap_rgb(Colormap c, float v, float rgb[3]);
// [h, w] values in [0, 1] -> [3, h, w] RGB in [0, 1].
Tensor apply_colormap(const Tensor& map, Colormap c);

}  // namespace cxr
