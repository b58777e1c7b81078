// The work `cxr bench` times, at whatever thread count is set (core/threading.h): the convolutions' matrix
// products alone (the ceiling the network is measured against), training steps and inference of a model on
// random data, and the flops they stand for.
//
// Flops are counted as models/summary.h counts multiply-accumulates, times 2: convolutions as their im2col
// products (Cout*Ho*Wo * Cin*k*k) and linear layers; batch norm, ReLU, pooling and the loss are left out.
// A training step counts 3 forwards (the forward, the backward to the data, the backward to the weights),
// the usual convention (it over-counts the first convolution, whose input needs no gradient, by a little).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/timing.h"
#include "layers/optim.h"
#include "models/model.h"

namespace cxr {

// One distinct per-image im2col product of a model's convolutions: C[M x N] = W[M x K] * cols[K x N] with
// M = out channels, N = Ho*Wo, K = in channels * k*k (layers/conv2d.h).
struct ConvGemm {
  std::string layer;  // the first conv with this shape ("features.0")
  int64_t M = 0, N = 0, K = 0;
  int layers = 0;     // how many of the model's convolutions have it
  double flops() const { return 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K); }
};

// The model's convolutions at a size x size input, one entry per distinct shape, in forward order.
std::vector<ConvGemm> conv_gemms(Model& model, int size);

// Forward flops of one image (2 x the summary's multiply-accumulates); a training step's is 3 x this.
double forward_flops_per_image(Model& model, int size);
inline constexpr double kTrainingFlopsPerForward = 3.0;

// Times `batch` products of one shape, split over the threads as conv2d splits a batch (parallel_over_images:
// one product per thread with single-threaded SGEMM, else one after another with every thread in SGEMM).
// The inputs are random; `tick` (may be empty) runs after every repetition. The first warm-up run also
// calibrates: a repetition repeats the products until it lasts 20 ms, and its time is divided back.
Timing time_conv_gemm(const ConvGemm& g, int batch, int warmup, int repetitions,
                      const std::function<void()>& tick = {});

// GFLOP/s of running every conv of the model once per image of the batch at the measured rates: the whole
// conv work over the time its products alone would take (shapes weighted by how many layers have them).
double combined_gflops(const std::vector<ConvGemm>& gemms, const std::vector<Timing>& timings, int batch);

// Random inputs [batch, in_channels, size, size] in [0, 1) and targets cycling through the classes.
struct RandomBatch {
  Tensor x;
  std::vector<int> y;
};
RandomBatch random_batch(const ModelConfig& c, int batch, uint64_t seed = 1);

// One training step per repetition: forward in train mode, cross-entropy, backward, optimizer step.
Timing time_training(Model& model, Optimizer& opt, const RandomBatch& data, int warmup, int repetitions,
                     const std::function<void()>& tick = {});
// One no-grad forward of the batch in eval mode per repetition.
Timing time_inference(Model& model, const Tensor& x, int warmup, int repetitions,
                      const std::function<void()>& tick = {});

}  // namespace cxr
