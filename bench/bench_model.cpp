// Whole-network throughput: one training step (forward, cross-entropy, backward, SGD step) and inference,
// in images per second, for full-width VGG-16 at 224x224 and the CPU-sized VGG-16 (width 0.25, 128 px)
// that the demo trains, and (peak_MiB) the most tensor storage a training step holds at once, beside the
// scratch workspace of core/workspace.h (scratch_MiB). Pair with bench/torch_reference.py for the PyTorch ratio
// (docs/PERFORMANCE.md).
//
//   build/bench/bench_model --benchmark_filter=vgg16_224 --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include "core/allocator.h"
#include "core/rng.h"
#include "core/workspace.h"
#include "layers/loss.h"
#include "layers/optim.h"
#include "models/model.h"

using namespace cxr;

namespace {

ModelConfig config(float width, int size, bool bn) {
  ModelConfig c;
  c.arch = "vgg16";
  c.width = width;
  c.input_size = size;
  c.in_channels = 3;
  c.batch_norm = bn;
  c.num_classes = 3;
  return c;
}

Tensor random_batch(int n, int c, int size) {
  Rng rng(1);
  Tensor x = Tensor::empty({n, c, size, size});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.uniform();
  return x;
}

void train_step(benchmark::State& state, float width, int size, bool bn) {
  const int batch = static_cast<int>(state.range(0));
  auto model = make_model(config(width, size, bn));
  SGD opt(model->named_parameters(), 1e-3f, SGDOptions{0.9f, 0.0f, 0.0f, false});
  Tensor x = random_batch(batch, 3, size);
  std::vector<int> y(batch);
  for (int i = 0; i < batch; ++i) y[i] = i % 3;
  model->train();
  reset_storage_peak();
  for (auto _ : state) {
    Variable loss = cross_entropy((*model)(Variable(x)), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
  }
  state.counters["img_per_s"] = benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                                                   benchmark::Counter::kIsRate);
  // All tensor storage at its highest: weights, momentum, batch, activations, gradients.
  state.counters["peak_MiB"] = static_cast<double>(storage_use().peak_bytes) / (1 << 20);
  state.counters["scratch_MiB"] = static_cast<double>(scratch_bytes()) / (1 << 20);
}

void inference(benchmark::State& state, float width, int size, bool bn) {
  const int batch = static_cast<int>(state.range(0));
  auto model = make_model(config(width, size, bn));
  model->eval();
  Tensor x = random_batch(batch, 3, size);
  NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize((*model)(Variable(x)).data().data());
  state.counters["img_per_s"] = benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                                                   benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK_CAPTURE(train_step, vgg16_224, 1.0f, 224, false)->Arg(8)->Iterations(2)->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(inference, vgg16_224, 1.0f, 224, false)->Arg(1)->Arg(8)->Iterations(2)->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(train_step, vgg16_w025_128_bn, 0.25f, 128, true)->Arg(32)->Iterations(5)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(inference, vgg16_w025_128_bn, 0.25f, 128, true)->Arg(1)->Arg(32)->Iterations(5)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
