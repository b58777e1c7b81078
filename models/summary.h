// A Keras-style model summary: one row per layer with its output shape (batch 1), parameters and
// multiply-accumulates, and totals.
//
// Shapes are computed analytically from each layer's hyper-parameters (instant; a real forward of VGG-16 at
// 224 takes seconds). MACs count the multiply-adds of convolutions (Cout*Ho*Wo * Cin*k*k) and linears
// (in*out) only: batch norm, ReLU, pooling and bias adds are elementwise and left out, as the usual
// "VGG-16 = 15.5 GMACs" figure leaves them out. Activation memory is the sum of every layer's float32
// output at batch 1: what a forward pass holds for backward, per image.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "layers/conv_algo.h"
#include "models/layer_names.h"
#include "models/model.h"

namespace cxr {

struct SummaryRow {
  std::string name;      // torch name
  std::string alias;     // may be empty
  std::string type;      // "Conv2d"
  std::string describe;  // "Conv2d(3, 64, kernel_size=3, stride=1, padding=1)"
  Shape output;          // [1, C, H, W] or [1, F]
  int64_t params = 0;
  int64_t trainable = 0;
  int64_t macs = 0;
  // Convolutions: the algorithm conv2d runs for this layer at batch 1 under the process-wide --conv
  // (layers/conv_algo.h): im2col, winograd, or automatic while --conv auto has not timed the shape yet.
  std::optional<ConvAlgo> conv;
};

struct ModelSummary {
  std::string model;        // "vgg16_bn"
  std::string config;       // Model::describe()
  ModelConfig model_config;
  Shape input;              // [1, C, H, W]
  ConvAlgo conv_option = ConvAlgo::im2col;  // the process-wide --conv the rows' choices follow
  std::vector<SummaryRow> rows;
  int64_t total_params = 0;
  int64_t trainable_params = 0;
  int64_t buffer_values = 0;     // batch-norm running statistics (not parameters, but in the checkpoint)
  int64_t total_macs = 0;
  int64_t activation_bytes = 0;  // input + every layer output, float32, batch 1
  int64_t parameter_bytes = 0;   // float32
};

// Summarises `model` for a batch-1 input of height x width (0: the config's input_size). Throws when the
// input does not fit the model (same rules as Model::check_input).
ModelSummary summarize(Model& model, int height = 0, int width = 0);

// The table, ready to print.
std::string format_summary(const ModelSummary& s);
nlohmann::json summary_json(const ModelSummary& s);

}  // namespace cxr
