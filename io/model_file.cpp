#include "io/model_file.h"

#include "io/safetensors.h"

namespace cxr::io {

LoadedModel load_model_file(const std::string& path, const std::string& arch, const std::string& normalize,
                            const std::vector<std::string>& classes) {
  CheckpointInfo info = read_checkpoint_info(path);
  LoadedModel out;
  out.path = path;
  if (info.has_meta) {
    out.meta = info.meta;
    if (!arch.empty()) {
      std::string have = model_name(out.meta.model);
      CXR_CHECK(arch == have || arch == out.meta.model.arch, path, ": --arch ", arch, " does not match the checkpoint's ",
                have);
    }
  } else {
    CXR_CHECK(!arch.empty(), path, ": this checkpoint has no cxr metadata (e.g. exported from torchvision); "
                                   "say what it is with --arch, e.g. --arch vgg16 or --arch vgg16_bn");
    ModelConfig base;
    out.meta.model = config_from_name(arch, base);
    out.meta.source = "external (no cxr metadata)";
  }
  // Shapes that the file decides: classes from the last linear layer, channels and width from the first conv.
  SafeTensorsHeader header = read_safetensors_header(path);
  auto find = [&](const std::string& name) -> const Shape* {
    for (const auto& e : header.entries)
      if (e.name == name) return &e.shape;
    return nullptr;
  };
  const Shape* first = find("features.0.weight");  // [out, in, 3, 3]
  const Shape* last = nullptr;                      // the last classifier weight: [classes, in]
  for (int i = 0; i < 16; ++i)
    if (const Shape* t = find(str("classifier.", i, ".weight"))) last = t;
  if (info.has_meta) {
    // The metadata decides what make_model builds: check it against the weights first, so that metadata
    // naming a huge model (width 8, the config's limit, say) is refused before that model is allocated.
    const ModelConfig& c = out.meta.model;
    if (first && c.arch.rfind("vgg", 0) == 0) {
      const Shape want = {scaled_channels(64, c.width), c.in_channels, 3, 3};
      CXR_CHECK(*first == want, path, ": its metadata describes ", model_name(c), " at width ", c.width, " with ",
                c.in_channels, " input channel(s), whose features.0.weight is ", to_string(want), ", but the file's is ",
                to_string(*first), ": the metadata does not describe these weights");
    }
    CXR_CHECK(!last || (last->size() == 2 && (*last)[0] == c.num_classes), path, ": its metadata describes ",
              c.num_classes, " classes but the last classifier weight is ", last ? to_string(*last) : "",
              ": the metadata does not describe these weights");
  } else {
    CXR_CHECK(first && first->size() == 4, path, ": no features.0.weight [out, in, 3, 3]: not a VGG checkpoint");
    out.meta.model.in_channels = static_cast<int>((*first)[1]);
    out.meta.model.width = static_cast<float>((*first)[0]) / 64.0f;
    // The last classifier weight gives the class count.
    CXR_CHECK(last && last->size() == 2, path, ": no classifier.N.weight: not a VGG checkpoint");
    out.meta.model.num_classes = static_cast<int>((*last)[0]);
  }
  out.model = make_model(out.meta.model);
  load_checkpoint(path, *out.model);
  out.model->eval();
  if (info.has_meta) {
    CXR_CHECK(classes.empty() || classes == out.meta.classes, path, ": --classes ", join(classes), " is for ",
              "checkpoints without cxr metadata; this one names its own (", join(out.meta.classes), ")");
  } else if (!classes.empty()) {
    CXR_CHECK(static_cast<int>(classes.size()) == out.meta.model.num_classes, path, ": --classes names ",
              classes.size(), " classes (", join(classes), ") but the model has ", out.meta.model.num_classes,
              " outputs");
    out.meta.classes = classes;
  }
  if (out.meta.classes.empty())
    for (int k = 0; k < out.meta.model.num_classes; ++k) out.meta.classes.push_back(str("class", k));
  CXR_CHECK(static_cast<int>(out.meta.classes.size()) == out.meta.model.num_classes, path, ": metadata names ",
            out.meta.classes.size(), " classes but the model has ", out.meta.model.num_classes, " outputs");
  if (info.has_meta) {
    CXR_CHECK(normalize.empty(), path, ": --normalize ", normalize, " is for checkpoints without cxr metadata; this one "
              "records its own normalisation (", out.meta.mean.empty() ? "none" : "mean/std", ")");
    out.norm.name = out.meta.mean.empty() ? "none" : "checkpoint";
    out.norm.mean = out.meta.mean;
    out.norm.std = out.meta.std;
    if (out.norm.mean.empty()) out.norm = image::normalisation_preset("none");
  } else {
    out.norm = image::normalisation_preset(normalize.empty() ? "none" : normalize);
    CXR_CHECK(out.norm.mean.size() == 1 || static_cast<int>(out.norm.mean.size()) == out.meta.model.in_channels, path,
              ": --normalize ", normalize, " has ", out.norm.mean.size(), " channels but the model takes ",
              out.meta.model.in_channels);
  }
  return out;
}

}  // namespace cxr::io
