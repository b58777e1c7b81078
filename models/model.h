// Model: what every cxr network is (VGG, the seed notebook's small CNN), its configuration, and a factory.
//
// Every model has torchvision VGG's three parts, so that checkpoints, hooks and Grad-CAM treat them alike:
//
//   x [N, C, H, W] -> features (Sequential: conv / batch-norm / relu / max-pool)
//                  -> avgpool  (AdaptiveAvgPool2d; absent in the seed CNN, which flattens directly)
//                  -> flatten  -> classifier (Sequential: linear / relu / dropout) -> logits [N, K]
//
// Parameters are named from the model root as PyTorch's state_dict names them: features.0.weight,
// features.1.running_mean, classifier.6.bias. The flatten step has no parameters and, as in torchvision,
// is not a registered child (it does not appear in state_dict names), but it is listed by layers().
//
// ModelConfig is saved in checkpoint metadata (JSON) and rebuilds the same network with make_model().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "layers/module.h"
#include "layers/modules.h"

namespace cxr {

struct ModelConfig {
  std::string arch = "vgg16";      // vgg11 | vgg13 | vgg16 | vgg19 | seedcnn
  bool batch_norm = false;         // conv -> BatchNorm2d -> relu (torchvision's vgg*_bn)
  // Channel multiplier: every conv's channels and every hidden linear width become
  // max(1, round(c * width)). At 1.0 the network is exactly torchvision's. The hidden FC width (4096 in
  // VGG) is scaled too: at width 0.25 VGG-16 has 1024-wide FCs, otherwise a CPU-sized VGG would be
  // almost all FC parameters.
  float width = 1.0f;
  int in_channels = 3;             // 1 (grey X-rays as they are) or 3 (ImageNet layout)
  int input_size = 224;            // square input side; a multiple of 32 (VGG halves it 5 times)
  // torchvision: avgpool 7x7 -> Linear(C*49, 4096w) -> ReLU -> Dropout -> Linear(4096w, 4096w) -> ReLU
  //              -> Dropout -> Linear(4096w, K)   (the seed CNN: its own flatten -> 128w -> K head)
  // gap:         avgpool 1x1 -> Linear(C, K)
  // gap256:      avgpool 1x1 -> Linear(C, 256) -> ReLU -> Dropout -> Linear(256, K)
  std::string head = "torchvision";
  int num_classes = 3;
  float dropout = 0.5f;            // p of the classifier's Dropout layers
  uint64_t seed = 0;               // initial weights and dropout masks
};

// Throws cxr::Error naming the field and the allowed values.
void validate(const ModelConfig& c);
// The channel rule above: max(1, round(channels * width)); exactly `channels` at width 1.
int scaled_channels(int channels, float width);
// "vgg16", "vgg16_bn", "seedcnn" (the torchvision name of the arch and batch-norm choice).
std::string model_name(const ModelConfig& c);
// Sets arch and batch_norm from a name model_name() gives ("vgg16_bn" -> vgg16 + batch_norm); the other
// fields of `base` are kept. Throws on an unknown name, listing the known ones.
ModelConfig config_from_name(const std::string& name, ModelConfig base = {});
const std::vector<std::string>& known_archs();

// JSON with every field; from_json keeps defaults for missing keys (older metadata still loads) and
// throws cxr::Error for a wrong type or an invalid value.
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);

// One layer of a model, in the order forward() runs them.
struct LayerRef {
  std::string name;     // torch name: "features.29", "avgpool", "flatten", "classifier.6"
  Module* module;       // owned by the model
  std::string section;  // "features" | "avgpool" | "flatten" | "classifier"
  size_t index;         // position inside its Sequential (0 for avgpool and flatten)
};

class Model : public Module {
 public:
  // The three parts (avgpool is null in the seed CNN). Public, like a layer's weight: callers reach in.
  std::shared_ptr<Sequential> features;
  std::shared_ptr<AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<Flatten> flatten;
  std::shared_ptr<Sequential> classifier;

  const ModelConfig& config() const { return config_; }
  std::string name() const { return model_name(config_); }
  std::string describe() const override;

  // x [N, in_channels, H, W] -> logits [N, num_classes]. Every layer runs through operator(), so forward
  // hooks on any layer (or on features/classifier as a whole) fire.
  Variable forward(const Variable& x) override;
  // Throws unless x fits this model (see check_input); forward() calls it.
  virtual void check_input(const Shape& x) const;

  // Every layer in forward order: features.0 ... features.(n-1), avgpool, flatten, classifier.0 ...
  std::vector<LayerRef> layers();
  // Runs layers()[position+1 ..] on `activation` (the output of layers()[position]) to the logits.
  Variable forward_after(size_t position, const Variable& activation);
  // Runs features[feature_index+1 ..], avgpool, flatten, classifier on the output of
  // features[feature_index]: the head above a conv layer (Grad-CAM re-runs only this part).
  Variable forward_from(size_t feature_index, const Variable& activation);
  // Runs features[0 .. feature_index] (inclusive) on x and returns that layer's output.
  Variable forward_to(size_t feature_index, const Variable& x);

 protected:
  explicit Model(const ModelConfig& c);
  // Registers the parts as children named "features", "avgpool" (when present), "classifier".
  void set_parts(std::shared_ptr<Sequential> f, std::shared_ptr<AdaptiveAvgPool2d> pool,
                 std::shared_ptr<Sequential> cls);
  // The "gap" / "gap256" heads, shared by all archs: appends the linears to `cls` for `channels` feature
  // maps and returns the 1x1 avgpool. `rng` initialises the linears.
  std::shared_ptr<AdaptiveAvgPool2d> build_gap_head(Sequential& cls, int channels, Rng& rng);
  // The seed used for the i-th Dropout layer: independent of the weight initialisation stream.
  uint64_t dropout_seed(int i) const;

 private:
  ModelConfig config_;
};

// Builds the model a config describes (validated first), with fresh torchvision-style initial weights.
std::shared_ptr<Model> make_model(const ModelConfig& c);

}  // namespace cxr
