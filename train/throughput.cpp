#include "train/throughput.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <tuple>

#include "core/blas.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/threading.h"
#include "layers/conv2d.h"
#include "layers/loss.h"
#include "models/summary.h"

namespace cxr {

namespace {

constexpr double kMinRepetitionSeconds = 0.02;

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

}  // namespace

std::vector<ConvGemm> conv_gemms(Model& model, int size) {
  // The summary knows each layer's output shape at this input size; the conv module its channels and kernel.
  const ModelSummary s = summarize(model, size, size);
  std::map<std::string, Shape> out_shape;
  for (const SummaryRow& r : s.rows) out_shape[r.name] = r.output;
  std::vector<ConvGemm> out;
  std::map<std::tuple<int64_t, int64_t, int64_t>, size_t> seen;
  for (const LayerRef& l : model.layers()) {
    const auto* conv = dynamic_cast<const Conv2d*>(l.module);
    if (!conv) continue;
    const Shape& y = out_shape.at(l.name);  // [1, C, Ho, Wo]
    ConvGemm g{l.name, conv->out_channels, y[2] * y[3], int64_t{conv->in_channels} * conv->kernel * conv->kernel, 1};
    const auto key = std::make_tuple(g.M, g.N, g.K);
    if (auto it = seen.find(key); it != seen.end()) {
      ++out[it->second].layers;
      continue;
    }
    seen[key] = out.size();
    out.push_back(g);
  }
  return out;
}

double forward_flops_per_image(Model& model, int size) {
  return 2.0 * static_cast<double>(summarize(model, size, size).total_macs);
}

Timing time_conv_gemm(const ConvGemm& g, int batch, int warmup, int repetitions, const std::function<void()>& tick) {
  // One weight matrix (as a layer has), one cols matrix read by every product (its contents do not change
  // the speed) and one output per image, so the threads never write the same memory.
  const Tensor w = random_tensor({g.M, g.K}, 1), cols = random_tensor({g.K, g.N}, 2);
  Tensor y = Tensor::empty({batch, g.M * g.N});
  auto product = [&](int64_t i) {
    sgemm(false, false, g.M, g.N, g.K, 1.0f, w.data(), g.K, cols.data(), g.N, 0.0f, y.data() + i * g.M * g.N, g.N);
  };
  auto run = [&] {
    if (parallel_over_images(batch)) {
      BlasSingleThread single;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < batch; ++i) product(i);
    } else {
      for (int64_t i = 0; i < batch; ++i) product(i);
    }
  };
  // A small shape's products take microseconds, too short for a clock reading on a busy machine to mean
  // anything: each repetition runs them `rounds` times, enough for kMinRepetitionSeconds, and reports the
  // time of one round.
  const auto t0 = std::chrono::steady_clock::now();
  run();
  const double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double wanted = std::ceil(kMinRepetitionSeconds / std::max(once, 1e-9));
  const int rounds = static_cast<int>(std::clamp(wanted, 1.0, 10000.0));
  Timing t = time_repeated(std::max(0, warmup - 1), repetitions, [&] { for (int r = 0; r < rounds; ++r) run(); }, tick);
  for (double& s : t.seconds) s /= rounds;
  return t;
}

double combined_gflops(const std::vector<ConvGemm>& gemms, const std::vector<Timing>& timings, int batch) {
  CXR_CHECK(gemms.size() == timings.size(), "combined_gflops: ", gemms.size(), " shapes, ", timings.size(),
            " timings");
  double flops = 0, seconds = 0;
  for (size_t i = 0; i < gemms.size(); ++i) {
    flops += gemms[i].layers * gemms[i].flops() * batch;
    seconds += gemms[i].layers * timings[i].median();
  }
  return seconds > 0 ? flops / seconds * 1e-9 : 0.0;
}

RandomBatch random_batch(const ModelConfig& c, int batch, uint64_t seed) {
  RandomBatch b;
  b.x = random_tensor({batch, c.in_channels, c.input_size, c.input_size}, seed);
  for (int i = 0; i < batch; ++i) b.y.push_back(i % c.num_classes);
  return b;
}

Timing time_training(Model& model, Optimizer& opt, const RandomBatch& data, int warmup, int repetitions,
                     const std::function<void()>& tick) {
  model.train();
  auto step = [&] {
    Variable loss = cross_entropy(model(Variable(data.x)), data.y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  };
  return time_repeated(warmup, repetitions, step, tick);
}

Timing time_inference(Model& model, const Tensor& x, int warmup, int repetitions, const std::function<void()>& tick) {
  model.eval();
  auto forward = [&] {
    NoGradGuard no_grad;
    Tensor logits = model(Variable(x)).data();
    CXR_CHECK(logits.numel() > 0, "inference gave no logits");
  };
  return time_repeated(warmup, repetitions, forward, tick);
}

}  // namespace cxr
