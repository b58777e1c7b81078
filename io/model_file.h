// Opening a trained model from a checkpoint file, for eval, predict, explain and report.
//
// A cxr checkpoint carries its architecture in its metadata and rebuilds itself. A file without that
// metadata (e.g. a torchvision state_dict converted to safetensors) needs the architecture from the caller
// (`--arch vgg16 [--bn]`); the class count, input channels and width are then read off the tensor shapes
// and the whole architecture is checked against the file's names and shapes, with a clear error on any
// mismatch (load_checkpoint is strict).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/transform.h"
#include "io/checkpoint.h"
#include "models/model.h"

namespace cxr::io {

struct LoadedModel {
  std::shared_ptr<Model> model;  // in eval mode
  CheckpointMeta meta;           // classes filled (the caller's, else "class0".. when the file names none)
  image::Normalisation norm;            // from the metadata; for a file without it, the caller's preset ("none")
  std::string path;
};

// `arch` (e.g. "vgg16", "vgg16_bn") is required only for files without cxr metadata; given for a file
// that has metadata, it must agree with it. `normalize` (a preset of image/transform.h: none | imagenet |
// half) is the input normalisation of a file without metadata, e.g. "imagenet" for converted ImageNet
// weights (default "none"); a cxr checkpoint records its own, and giving one for it is an error.
// `classes` names the outputs of a file without metadata, in order (a PyTorch export knows none): without
// them they are "class0", "class1"...; a cxr checkpoint names its own, and giving others for it is an error.
LoadedModel load_model_file(const std::string& path, const std::string& arch = "", const std::string& normalize = "",
                            const std::vector<std::string>& classes = {});

}  // namespace cxr::io
