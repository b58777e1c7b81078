// Checkpoints: a Module's state in a safetensors file, named exactly as PyTorch's state_dict names it
// (features.0.weight, features.1.running_mean, ...), so a cxr checkpoint loads into torchvision's VGG with
// load_state_dict and torchvision weights converted to safetensors load into cxr.
//
// Every named parameter and buffer is written as F32, except batch-norm's num_batches_tracked, which is
// written as an I64 scalar (shape []) as PyTorch keeps it. What the model is and where it came from
// (CheckpointMeta) goes into the file's string metadata: the whole of it as one JSON string under "cxr",
// and a few plain keys ("arch", "classes", "input_size", "format") for anyone reading the header by hand.
//
// Loading never half-loads: the file is read and validated completely, every name and shape compared, and
// only when all is well are the values copied into the model. On any error the model is unchanged.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/module.h"
#include "layers/optim.h"
#include "models/model.h"

namespace cxr::io {

// What a checkpoint's model is (enough to rebuild it and prepare its inputs) and where it came from.
struct CheckpointMeta {
  bool found = false;                // set on reading: the file carried cxr metadata (torchvision's has none)
  ModelConfig model;                 // make_model(meta.model) rebuilds the network
  std::vector<std::string> classes;  // output index -> class name (empty or model.num_classes names)
  std::vector<float> mean, std;      // input normalisation, per channel (empty: none)
  // Provenance
  int64_t epoch = -1;                // -1: unknown / not trained by cxr
  int64_t step = -1;
  uint64_t seed = 0;                 // the training run's seed (data order, augmentation)
  std::map<std::string, double> metrics;  // e.g. "val_accuracy"
  std::string source;                // e.g. "cxr train", "torchvision IMAGENET1K_V1"
  std::string created;               // time of saving, as the caller formats it (left out when empty)
  nlohmann::json extra = nlohmann::json::object();  // anything else (training options...)
  // Temperature scaling (train/calibration.h), fitted by `cxr eval --fit-temperature` on validation data:
  // eval and predict show softmax(z / T) by default. 0: none stored. Written only when set.
  double temperature = 0;
};

nlohmann::json meta_to_json(const CheckpointMeta& m);
// Missing fields keep their defaults; a field of the wrong type or an invalid model config throws cxr::Error.
CheckpointMeta meta_from_json(const nlohmann::json& j);

// Writes all named parameters and buffers of `model` plus `meta`, atomically. When `model` is a cxr Model,
// meta.model is taken from model.config() (whatever the caller put there).
void save_checkpoint(const std::string& path, Module& model, const CheckpointMeta& meta);

// Stores `temperature` (finite, > 0) in the metadata of the checkpoint at `path`: the file is read whole,
// and written back atomically (temp + fsync + rename) with the same tensors, byte for byte, and the same
// metadata except "temperature" in the "cxr" JSON and as a plain key. Throws for a file without cxr
// metadata (there is nothing to say what the temperature belongs to).
void set_checkpoint_temperature(const std::string& path, double temperature);

struct LoadOptions {
  // strict: every model tensor must be in the file and every file tensor in the model. Shapes must
  // always match, strict or not (as in PyTorch).
  bool strict = true;
  // Names starting with any of these are neither loaded nor required, on either side: the model keeps its
  // own values there. For fine-tuning, e.g. {"classifier.6."} to replace a 1000-class head.
  std::vector<std::string> skip_prefixes;
};

struct LoadReport {
  std::vector<std::string> loaded;      // copied into the model
  std::vector<std::string> missing;     // in the model, not in the file (only when not strict)
  std::vector<std::string> unexpected;  // in the file, not in the model (only when not strict)
  std::vector<std::string> skipped;     // model tensors left as they were by skip_prefixes
};

// Loads `path` into `model` and returns its metadata (defaults when the file has no cxr metadata, e.g.
// torchvision weights). Errors list every missing, unexpected and mismatched name with shapes, e.g.
//   "classifier.6.weight: checkpoint [1000, 4096] vs model [3, 4096]".
CheckpointMeta load_checkpoint(const std::string& path, Module& model, const LoadOptions& options = {},
                               LoadReport* report = nullptr);

// Reads only the header: metadata and a summary of the tensors, without building a model.
struct CheckpointInfo {
  std::string path;
  uint64_t file_bytes = 0;
  bool has_meta = false;            // written by cxr ("cxr" metadata present)
  CheckpointMeta meta;
  int64_t tensor_count = 0;
  int64_t parameter_count = 0;      // elements of all tensors except batch-norm buffers
  int64_t buffer_count = 0;         // elements of running_mean / running_var / num_batches_tracked
  std::map<std::string, int64_t> dtypes;      // dtype name -> number of tensors
  std::map<std::string, std::string> metadata;  // the raw __metadata__
};
CheckpointInfo read_checkpoint_info(const std::string& path);
CheckpointMeta read_checkpoint_meta(const std::string& path);
// Human-readable multi-line summary for `cxr info` (architecture, classes, input size, counts...).
std::string describe_checkpoint(const std::string& path);

// Optimizer state in its own safetensors file, next to the checkpoint: the optimizer's named state tensors
// (layers/optim.h: "features.0.weight.momentum_buffer", "classifier.0.bias.exp_avg", ...) plus its type,
// step count, learning rate and hyper-parameters, kept in metadata as one JSON string under
// "cxr_optimizer" (doubles round-trip exactly through JSON).
struct OptimizerState {
  std::string type;                        // "SGD", "Adam", "AdamW"
  int64_t step = 0;                        // Optimizer::step_count()
  std::map<std::string, double> scalars;   // "lr", "momentum", "beta1", "weight_decay", ...
  std::map<std::string, Tensor> tensors;   // named state
  nlohmann::json extra = nlohmann::json::object();
};
void save_optimizer_state(const std::string& path, const OptimizerState& state);
OptimizerState load_optimizer_state(const std::string& path);
// The step count of a saved optimizer state, from the file's header alone.
int64_t optimizer_state_step(const std::string& path);

// The same from / into a live optimizer. Loading checks the type ("SGD" state does not go into Adam),
// restores step count and learning rate, and replaces all state tensors (each checked by
// Optimizer::load_state); on any error the optimizer is left as it was.
OptimizerState optimizer_state(Optimizer& opt);
void save_optimizer_state(const std::string& path, Optimizer& opt);
OptimizerState load_optimizer_state(const std::string& path, Optimizer& opt);

}  // namespace cxr::io
