// Layer visualisation: what each channel of a layer responds to, for one image (`cxr features`).
//
// A grid PNG per layer: its channels' activation maps side by side, each min-max normalised on its own
// (a constant channel, e.g. a dead ReLU, is drawn black), up to max_channels of them (the first ones) in a
// near-square grid, each cell scaled up (nearest neighbour, whole pixels) to at least min_cell pixels.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "explain/colormap.h"
#include "models/layer_names.h"
#include "models/model.h"

namespace cxr {

struct GridOptions {
  int max_channels = 64;
  int min_cell = 32;   // pixels per cell side, at least
  int gap = 2;         // pixels between cells
  Colormap colormap = Colormap::Gray;
};

// One image's activation [C, h, w] -> RGB grid [3, H, W].
Tensor channel_grid(const Tensor& activation, const GridOptions& options = {});
// Channels shown in a grid and its columns, for callers and tests.
int64_t grid_channels(int64_t channels, const GridOptions& options);
int64_t grid_columns(int64_t shown);

// "all": every layer of features plus avgpool (the 4-D outputs); "" (default): the last ReLU of each conv
// block (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in VGG-16); else a comma list of names or aliases of
// layers in features or avgpool (throws for others, e.g. the classifier's, which have no channel maps).
std::vector<LayerInfo> feature_layers(Model& model, const std::string& spec);

// One no-grad forward of x [1, C, S, S] recording the outputs of `layers` (each [C, h, w]).
std::vector<Tensor> layer_activations(Model& model, const Tensor& x, const std::vector<LayerInfo>& layers);

}  // namespace cxr
