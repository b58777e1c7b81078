#include "models/layer_names.h"

#include <algorithm>
#include <cctype>

#include "core/strings.h"

namespace cxr {

template <typename T>
static bool is(Module* m) {
  return dynamic_cast<T*>(m) != nullptr;
}

std::vector<LayerInfo> layer_table(Model& model) {
  std::vector<LayerInfo> out;
  int block = 1, conv = 0;  // features: current block, convs seen in it
  int fc = 0;               // classifier: linears seen
  std::vector<LayerRef> refs = model.layers();
  for (size_t p = 0; p < refs.size(); ++p) {
    const LayerRef& r = refs[p];
    LayerInfo l{p, r.name, "", {}, r.module, r.section, r.index};
    const std::string bi = std::to_string(block) + "_" + std::to_string(conv);
    if (r.section == "features") {
      if (is<Conv2d>(r.module)) {
        ++conv;
        l.alias = "conv" + std::to_string(block) + "_" + std::to_string(conv);
      } else if (is<BatchNorm2d>(r.module)) {
        l.alias = "bn" + bi;
      } else if (is<ReLU>(r.module)) {
        l.alias = "relu" + bi;
        l.synonyms.push_back("block" + std::to_string(block) + "_conv" + std::to_string(conv));
      } else if (is<MaxPool2d>(r.module)) {
        l.alias = "pool" + std::to_string(block);
        l.synonyms.push_back("block" + std::to_string(block) + "_pool");
        ++block;
        conv = 0;
      }
    } else if (r.section == "classifier") {
      if (is<Linear>(r.module)) {
        ++fc;
        l.alias = "fc" + std::to_string(fc);
      } else if (is<ReLU>(r.module)) {
        l.alias = "relu_fc" + std::to_string(fc);
      } else if (is<Dropout>(r.module)) {
        l.alias = "drop_fc" + std::to_string(fc);
      }
    }
    out.push_back(std::move(l));
  }
  // The last linear is the logits layer.
  for (auto it = out.rbegin(); it != out.rend(); ++it) {
    if (it->section == "classifier" && is<Linear>(it->module)) {
      it->synonyms.push_back("logits");
      it->synonyms.push_back("predictions");
      break;
    }
  }
  return out;
}

std::string display_name(const LayerInfo& l) { return l.alias.empty() ? l.name : l.name + " (" + l.alias + ")"; }

LayerInfo resolve_layer(Model& model, const std::string& name) {
  const std::string want = lower(name);
  std::vector<LayerInfo> table = layer_table(model);
  for (const LayerInfo& l : table) {
    if (lower(l.name) == want || (!l.alias.empty() && lower(l.alias) == want)) return l;
    for (const auto& s : l.synonyms)
      if (lower(s) == want) return l;
  }
  std::string valid;
  for (const LayerInfo& l : table) valid += (valid.empty() ? "" : ", ") + display_name(l);
  throw Error(str("unknown layer '", name, "' in ", model.name(), ". Valid names: ", valid,
                  "; also logits, and Keras' block<b>_conv<i> / block<b>_pool"));
}

LayerInfo last_conv_activation(Model& model) {
  std::vector<LayerInfo> table = layer_table(model);
  const LayerInfo* found = nullptr;
  bool after_conv = false;
  for (const LayerInfo& l : table) {
    if (l.section != "features") continue;
    if (is<Conv2d>(l.module)) after_conv = true;
    if (after_conv && is<ReLU>(l.module)) found = &l;
  }
  CXR_CHECK(found != nullptr, model.name(), ": no ReLU after a convolution in features");
  return *found;
}

}  // namespace cxr
