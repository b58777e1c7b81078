// The one way cxr explains image files, used by `cxr explain`, `cxr xai-eval` and `cxr report`:
//
//   per batch of `batch` items:  load (parallel over the images) -> preprocess to the model input
//     -> masks (when asked: the item's own mask files first, else the mask folders) -> drop the images
//     that failed (on_error, once each) -> stack [G, C, S, S] -> explain (one forward, one head-only
//     backward per class) -> on_batch with everything a caller draws, scores or writes.
//
// What each caller does with a batch stays with the caller: `cxr explain` draws and saves the maps and
// writes explanations.json, xai-eval measures them (explain/xai_report.h), the report makes thumbnails.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "explain/cam.h"
#include "explain/localization.h"
#include "image/transform.h"
#include "models/model.h"

namespace cxr {

struct ImageToExplain {
  std::string path;
  int target = -1;  // the one class to explain; -1: the request's classes (empty: the predicted one)
  std::string lesion_mask, lung_mask;  // mask files named by a manifest, or ""
};

struct ExplainPipelineOptions {
  ExplainRequest request;
  image::Normalisation normalisation;  // the model's (io::LoadedModel::norm)
  int batch = 8;                       // images per forward
  bool masks = false;                  // load each image's lesion and lung masks at the input size
  std::map<std::string, MaskFolder> mask_folders;  // "lesion" / "lung" -> folder (resolve_mask_folders)
};

struct ExplainedImage {
  size_t index = 0;      // into the items
  Tensor original;       // [C, H, W] in [0, 1] as decoded (EXIF-rotated): what overlays are drawn on
  Tensor lesion, lung;   // [S, S] binary masks, when asked for and found; else undefined
  int masks_ambiguous = 0;  // masks left out because several files matched equally well
  double load_seconds = 0.0;
  std::vector<Explanation> explanations;  // one per explained class, in the request's order
};

struct ExplainedBatch {
  size_t begin = 0, end = 0;  // the items of this batch: [begin, end)
  Tensor inputs;              // [G, C, S, S]: the images that loaded, in item order (G = images.size())
  Tensor probabilities;       // [G, K] softmax of the logits
  std::vector<ExplainedImage> images;  // may be empty when every image of the batch failed
  double explain_seconds = 0.0;        // the batch's forward and backwards
};

using OnExplainedBatch = std::function<void(ExplainedBatch& batch)>;
using OnImageError = std::function<void(size_t index, const std::string& message)>;

// Explains every item, batch by batch, in order; on_batch is called for every batch (also one whose
// images all failed, so progress bars move). Items with a target must all have one (per-image classes),
// or none. Errors of the model or the request (unknown layer, class out of range) throw; errors of one
// image (unreadable file, bad mask) go to on_error and the others go on.
void explain_images(Model& model, const std::vector<ImageToExplain>& items, const ExplainPipelineOptions& options,
                    const OnExplainedBatch& on_batch, const OnImageError& on_error);

// [N] tensors of one shape -> [N, ...] stacked.
Tensor stack(const std::vector<Tensor>& tensors);

}  // namespace cxr
