// Layer names: every layer of a model can be named by its torch name or by a short alias, anywhere a layer
// is asked for (Grad-CAM's --layer, summaries, hooks).
//
//   torch name    features.29, avgpool, flatten, classifier.6     (the state_dict prefix)
//   alias         conv5_3, bn5_3, relu5_3, pool5                   (block 5, its 3rd conv; Caffe's VGG names)
//                 fc1, relu_fc1, drop_fc1, fc2, ..., fc3           (the classifier's linears, counted from 1)
//   synonyms      logits, predictions                              (the last linear)
//                 block5_conv3, block5_pool                        (Keras' VGG names)
//
// Aliases are computed from the layer types in order (a max-pool ends a block), not from per-model tables,
// so they hold for every arch, with or without batch norm, and for the seed CNN.
//
// Keras' block5_conv3 is a convolution with its ReLU fused in: its output is torch's relu5_3, so the Keras
// names resolve to the ReLU (the activation Keras Grad-CAM code reads), not to the bare convolution.
#pragma once
#include <string>
#include <vector>

#include "models/model.h"

namespace cxr {

struct LayerInfo {
  size_t position;                    // index in model.layers()
  std::string name;                   // torch name
  std::string alias;                  // "relu5_3"; empty for avgpool and flatten (their name says it)
  std::vector<std::string> synonyms;  // other names that resolve here
  Module* module;
  std::string section;                // "features" | "avgpool" | "flatten" | "classifier"
  size_t index;                       // position inside its section
};

// All layers in forward order, with their aliases.
std::vector<LayerInfo> layer_table(Model& model);

// The layer a name (torch name, alias or synonym; case-insensitive) means. Throws cxr::Error listing the
// valid names when it means none.
LayerInfo resolve_layer(Model& model, const std::string& name);

// The ReLU after the last convolution (relu5_3 in VGG-16): Grad-CAM's usual target layer.
LayerInfo last_conv_activation(Model& model);

// "features.29 (relu5_3)", or just the name when there is no alias.
std::string display_name(const LayerInfo& l);

}  // namespace cxr
