// bench_explain: what an explanation costs next to an inference of the same model and batch.
//
// Each iteration runs one plain inference (no-grad forward) and then the explanation, on the same input,
// and times both; the benchmark's time is the explanation's, and
//   ratio_to_inference = explanation time / inference time   (summed over the iterations)
// is robust to the load of a shared machine, which moves both alike; cpu_ratio is the same with process CPU
// time (with CXR_THREADS=1, the work itself, whatever the load). The target for Grad-CAM is <= 1.15:
// the explain forward records no graph below the target layer and the backward only crosses the head.
//   build/bench/bench_explain                                  (all; Score-CAM and VGG-16 at 224 are slow)
//   build/bench/bench_explain --benchmark_filter='w0.25'       (VGG-16 width 0.25 at 128 px only)
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "core/rng.h"
#include "explain/cam.h"

using namespace cxr;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
// Process CPU seconds (all threads): with CXR_THREADS=1 a load-independent measure of the work done.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Setup {
  std::shared_ptr<Model> model;
  Tensor x;
};

// VGG-16 (1 input channel, as X-rays are used), torchvision head unless told, eval mode, random weights and input.
Setup& setup(float width, int size, int batch, const std::string& head = "torchvision") {
  static std::map<std::tuple<float, int, int, std::string>, Setup> cache;
  auto key = std::make_tuple(width, size, batch, head);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  ModelConfig c;
  c.arch = "vgg16";
  c.width = width;
  c.input_size = size;
  c.in_channels = 1;
  c.head = head;
  c.seed = 1;
  Setup s;
  s.model = make_model(c);
  s.model->eval();
  Rng rng(2);
  s.x = Tensor::empty({batch, 1, size, size});
  for (int64_t i = 0; i < s.x.numel(); ++i) s.x[i] = rng.uniform(0.0f, 1.0f);
  return cache.emplace(key, std::move(s)).first->second;
}

double infer(Setup& s, double* cpu = nullptr) {
  const auto t0 = Clock::now();
  const double c0 = cpu_seconds();
  NoGradGuard no_grad;
  Tensor logits = s.model->forward(Variable(s.x)).data();
  benchmark::DoNotOptimize(logits.data());
  if (cpu) *cpu += cpu_seconds() - c0;
  return seconds_since(t0);
}

void bm_explain(benchmark::State& st, std::string method, float width, int size, int batch, bool all_classes,
                std::string head) {
  Setup& s = setup(width, size, batch, head);
  ExplainRequest req;
  req.method = parse_method(method);
  if (all_classes) req.classes = {0, 1, 2};
  infer(s);  // warm-up: workspaces, OpenBLAS threads
  explain_batch(*s.model, s.x, req);
  double t_inf = 0, t_exp = 0, c_inf = 0, c_exp = 0;
  int64_t n = 0;
  for (auto _ : st) {
    t_inf += infer(s, &c_inf);
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    auto r = explain_batch(*s.model, s.x, req);
    c_exp += cpu_seconds() - c0;
    const double dt = seconds_since(t0);
    benchmark::DoNotOptimize(r.data());
    st.SetIterationTime(dt);
    t_exp += dt;
    ++n;
  }
  st.counters["ratio_to_inference"] = t_exp / t_inf;
  st.counters["cpu_ratio"] = c_exp / c_inf;
  st.counters["inference_ms"] = 1e3 * t_inf / static_cast<double>(n);
  st.counters["ms_per_image"] = 1e3 * t_exp / static_cast<double>(n * batch);
}

void bm_inference(benchmark::State& st, float width, int size, int batch, std::string head) {
  Setup& s = setup(width, size, batch, head);
  infer(s);
  double t = 0;
  int64_t n = 0;
  for (auto _ : st) {
    const double dt = infer(s);
    st.SetIterationTime(dt);
    t += dt;
    ++n;
  }
  st.counters["ms_per_image"] = 1e3 * t / static_cast<double>(n * batch);
}

int register_all() {
  for (int batch : {1, 8}) {
    const std::string tag = "/vgg16_w0.25_128/b" + std::to_string(batch);
    benchmark::RegisterBenchmark(("inference" + tag).c_str(), bm_inference, 0.25f, 128, batch, "torchvision")
        ->UseManualTime()->Unit(benchmark::kMillisecond);
    for (const char* m : {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam", "eigencam", "guided",
                          "guided-gradcam"})
      benchmark::RegisterBenchmark((std::string(m) + tag).c_str(), bm_explain, m, 0.25f, 128, batch, false,
                                   "torchvision")
          ->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("gradcam_all_classes" + tag).c_str(), bm_explain, "gradcam", 0.25f, 128, batch,
                                 true, "torchvision")
        ->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  // The same with the "gap" head (global average pool + one linear): no large FC matrices for the backward
  // to read a second time.
  benchmark::RegisterBenchmark("inference/vgg16_w0.25_128_gap/b1", bm_inference, 0.25f, 128, 1, "gap")
      ->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gradcam/vgg16_w0.25_128_gap/b1", bm_explain, "gradcam", 0.25f, 128, 1, false, "gap")
      ->UseManualTime()->Unit(benchmark::kMillisecond);
  // Score-CAM: one masked forward per channel of relu5_3 (128 at width 0.25): expensive by design.
  benchmark::RegisterBenchmark("scorecam/vgg16_w0.25_128/b1", bm_explain, "scorecam", 0.25f, 128, 1, false,
                               "torchvision")
      ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);
  // Full VGG-16 at 224, batch 1: the real model's Grad-CAM overhead.
  benchmark::RegisterBenchmark("inference/vgg16_224/b1", bm_inference, 1.0f, 224, 1, "torchvision")
      ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
  benchmark::RegisterBenchmark("gradcam/vgg16_224/b1", bm_explain, "gradcam", 1.0f, 224, 1, false, "torchvision")
      ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
  return 0;
}

const int registered = register_all();

}  // namespace
