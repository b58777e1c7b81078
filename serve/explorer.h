// The model behind `cxr serve`: one checkpoint loaded once, images cached by the hash of their bytes, and
// explanations of any class, method and layer for a cached image without repeating its forward.
//
// What one image costs (the cache is what makes switching instant):
//   add_image      decode + preprocess + ONE no-grad forward. The forward records the logits and the outputs
//                  of the max-pool layers (the "checkpoints": pool1..pool5 in VGG, about 1.5 M floats per
//                  image for VGG-16 at 224) and the image stays in an LRU of `cache_images` entries.
//   explain        for a layer set not yet seen on this image: the forward RESUMED from the highest checkpoint
//                  below the lowest target layer (a few convolutions, Model::forward_after) and one head-only
//                  backward per class (all K classes at once), kept with the image; then, and for every
//                  later class, method or counterfactual switch at those layers, only the fusion of the
//                  cached activations and gradients (explain_capture). Score-CAM adds its masked forwards;
//                  guided backprop and guided Grad-CAM need a graph down to the input, so they run one full
//                  forward + backward each time (counted in Counters::full_passes).
//   metrics        the trust metrics of xai-eval for one explanation (explain/xai_report.h evaluate_batch):
//                  deletion / insertion AUC, energy and pointing game in the lesion / lung masks when the
//                  image has them (--data manifests), the shortcut flag. 2 * steps + 2 forwards; cached.
//
// Thread safety: every call may come from any HTTP worker thread. One mutex serialises everything that
// touches the model (its hooks and autograd graph are not re-entrant); each pass uses the process's thread
// budget (--threads) inside, so passes never run beside each other.
#pragma once
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "explain/cam.h"
#include "explain/faithfulness.h"
#include "image/image.h"
#include "io/model_file.h"

namespace cxr::serve {

struct ExplorerOptions {
  size_t cache_images = 32;          // images kept (least recently used dropped first)
  image::DecodeLimits limits;        // the decoders' own limits (those of cxr info) unless tightened
  int scorecam_batch = 32;           // masked images per forward in Score-CAM
  FaithfulnessOptions faithfulness;  // deletion / insertion steps and baselines
};

// Masks of a --data image (manifest columns): paths from the dataset, never from a request.
struct MaskFiles {
  std::string lesion, lung;
};

struct ImageSummary {
  std::string id;           // the first 16 hex digits of the SHA-256 of the image's bytes
  int64_t width = 0, height = 0, channels = 0;
  std::vector<float> probabilities;  // [K] softmax
  int predicted = -1;
  bool cached = false;      // it was in the cache already: no forward ran
  bool lesion_mask = false, lung_mask = false;
};

struct ExplainQuery {
  std::string image;                // an id that add_image returned
  CamMethod method = CamMethod::GradCAM;
  std::vector<std::string> layers;  // names as resolve_target_layers takes; empty: the default layer
  int class_index = -1;             // -1: the predicted class
  bool counterfactual = false;
  FuseMode fuse = FuseMode::Max;
};

struct Counters {
  int64_t full_passes = 0;     // forwards from the input: one per new image, plus one per guided explain
  int64_t resumed_passes = 0;  // forwards resumed from a cached checkpoint (a new layer set on an image)
  int64_t fusions = 0;         // explanations made from cached activations and gradients
  int64_t metric_runs = 0;
  int64_t cache_hits = 0, cache_misses = 0, evictions = 0;
};

class Explorer {
 public:
  Explorer(io::LoadedModel model, ExplorerOptions options = {});
  ~Explorer();

  const io::LoadedModel& model() const { return lm_; }
  Model& net() const { return *lm_.model; }
  const ExplorerOptions& options() const { return opt_; }
  // The layers a map can be drawn at: every features layer and avgpool (spatial outputs), in forward order.
  const std::vector<LayerInfo>& layers() const { return layers_; }
  const LayerInfo& default_layer() const { return default_layer_; }

  // Decodes `bytes` (PNG or JPEG; cxr::Error naming `name` for anything else) and runs its forward, unless
  // the same bytes are cached. Masks, when given, are loaded at the input size for the metrics.
  ImageSummary add_image(const std::vector<uint8_t>& bytes, const std::string& name, const MaskFiles& masks = {});
  // A cached image's summary; nullopt when the id is unknown (never added, or evicted).
  std::optional<ImageSummary> find(const std::string& id);
  // The cached image as decoded [C, H, W] in [0, 1] (undefined Tensor when the id is unknown).
  Tensor original(const std::string& id);

  // One explanation of a cached image. Throws cxr::Error for an unknown id, layer, class or a method that
  // does not take the request (counterfactual of a non-gradient method, a layer for guided backprop).
  Explanation explain(const ExplainQuery& q);
  // The trust metrics of that explanation, as one row of xai-eval's JSON (explain/xai_report.h to_json).
  nlohmann::json metrics(const ExplainQuery& q);

  Counters counters() const;

 private:
  struct Entry;
  std::shared_ptr<Entry> entry(const std::string& id);  // refreshes its LRU place; null when unknown
  Capture layer_capture(Entry& e, const std::vector<LayerInfo>& layers, bool counterfactual);
  Explanation explain_locked(Entry& e, const ExplainQuery& q);

  io::LoadedModel lm_;
  ExplorerOptions opt_;
  std::vector<LayerInfo> layers_, checkpoints_;
  LayerInfo default_layer_;
  mutable std::mutex mu_;  // the cache, the counters, every decode and every model pass
  std::list<std::shared_ptr<Entry>> lru_;  // most recent first
  Counters counters_;
};

}  // namespace cxr::serve
