// bench_conv: conv2d on the 13 convolutions of VGG-16 at 224x224, forward, backward-data and
// backward-weight, at batch 1 and 8, against SGEMM at the same matrix shape.
//
// Each iteration times the conv, then (untimed for the conv) one SGEMM of the same shape and transposes
// with every thread: the conv's own matrix product per image. Interleaving them makes the ratio
//   vs_sgemm = conv GFLOP/s / SGEMM GFLOP/s
// robust to the load of a shared machine, which moves both alike. A ratio near 1 means im2col, col2im,
// the bias and the threading cost little beside the product itself.
//   build-conv/bench/bench_conv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   build-conv/bench/bench_conv --benchmark_filter='forward/b8'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "bench/vgg16_convs.h"
#include "core/blas.h"
#include "core/rng.h"
#include "core/threading.h"
#include "layers/conv2d.h"
#include "layers/pool.h"

using namespace cxr;
using bench::VggConv;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Tensor random(const Shape& s, float scale, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = scale * rng.uniform(-1.0f, 1.0f);
  return t;
}

enum class Pass { Forward, BackwardData, BackwardWeight };
const char* pass_name(Pass p) {
  return p == Pass::Forward ? "forward" : p == Pass::BackwardData ? "backward_data" : "backward_weight";
}

// One image's matrix product of a pass, as conv2d performs it (layers/conv2d.cpp), on random operands.
struct ReferenceGemm {
  bool ta, tb;
  int64_t M, N, K;
  Tensor A, B, C;

  ReferenceGemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Shape& a, const Shape& b)
      : ta(ta), tb(tb), M(M), N(N), K(K), A(random(a, 1.0f, 11)), B(random(b, 1.0f, 12)), C(Tensor::empty({M, N})) {}

  double run() {  // seconds
    const auto t0 = Clock::now();
    sgemm(ta, tb, M, N, K, 1.0f, A.data(), A.size(1), B.data(), B.size(1), 0.0f, C.data(), N);
    return seconds_since(t0);
  }
  double flops() const { return gemm_flops(M, N, K); }
};

ReferenceGemm reference_for(const VggConv& c, Pass p) {
  const int64_t Co = c.M(), HW = c.N(), R = c.K();
  switch (p) {
    case Pass::Forward:  // y [Co, HW] = W [Co, R] * cols [R, HW]
      return ReferenceGemm(false, false, Co, HW, R, {Co, R}, {R, HW});
    case Pass::BackwardData:  // dcols [R, HW] = W^T * dy [Co, HW]
      return ReferenceGemm(true, false, R, HW, Co, {Co, R}, {Co, HW});
    case Pass::BackwardWeight:  // dW [Co, R] = dy [Co, HW] * cols^T
    default:
      return ReferenceGemm(false, true, Co, R, HW, {Co, HW}, {R, HW});
  }
}

// Enough iterations for about 4 GFLOP of conv work, so every benchmark takes a fraction of a second.
int64_t iterations_for(double flops) { return std::clamp<int64_t>(static_cast<int64_t>(4e9 / flops), 1, 100); }

// The first run of a benchmark in this process also pays for page faults and workspace growth: done once,
// untimed, and not again for its repetitions.
bool first_time(const std::string& name) {
  static std::set<std::string> seen;
  return seen.insert(name).second;
}

void set_counters(benchmark::State& state, double conv_flops, double conv_s, double ref_flops, double ref_s) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(conv_flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const double sgemm_rate = ref_flops * iters / ref_s * 1e-9;
  state.counters["sgemm_GFLOP/s"] = sgemm_rate;
  state.counters["vs_sgemm"] = (conv_flops * iters / conv_s * 1e-9) / sgemm_rate;
}

void BM_Conv(benchmark::State& state, VggConv c, int64_t batch, Pass pass, std::string name) {
  const Conv2dOptions same{1, 1, 1, 1};
  const float wscale = std::sqrt(2.0f / static_cast<float>(c.out * 9));
  Variable x(random({batch, c.in, c.size, c.size}, 1.0f, 1), pass == Pass::BackwardData);
  Variable w(random({c.out, c.in, 3, 3}, wscale, 2), pass == Pass::BackwardWeight);
  Variable b(random({c.out}, 0.1f, 3), pass == Pass::BackwardWeight);
  Tensor dy = random({batch, c.out, c.size, c.size}, 1.0f, 4);
  Variable y;
  if (pass != Pass::Forward) y = conv2d(x, w, b, same);  // the graph, kept for repeated backward
  auto op = [&] {
    if (pass == Pass::Forward) {
      NoGradGuard ng;
      benchmark::DoNotOptimize(conv2d(x, w, b, same).data().data());
    } else {
      y.backward(dy, /*retain_graph=*/true);
    }
  };
  auto clear = [&] {  // drop the last gradients (freeing them is not part of the timed backward)
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  };
  ReferenceGemm ref = reference_for(c, pass);
  if (first_time(name)) {
    op();
    clear();
    ref.run();
  }
  double conv_s = 0, ref_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    op();
    const double dt = seconds_since(t0);
    state.SetIterationTime(dt);
    conv_s += dt;
    clear();
    ref_s += ref.run();
  }
  set_counters(state, c.flops_per_image() * static_cast<double>(batch), conv_s, ref.flops(), ref_s);
  state.counters["threads"] = num_threads();
}

// The 13 convolutions in sequence on real activations (2x2 max-pools between stages, untimed), batch 8:
// the time is the sum of the convs' times, the SGEMM reference the sum of one SGEMM per layer times 8.
void BM_Vgg16ConvStack(benchmark::State& state, int64_t batch) {
  struct Layer {
    Variable w, b;
    ReferenceGemm ref;
    bool pool_after;
  };
  std::vector<Layer> layers;
  double flops = 0, ref_flops = 0;
  for (size_t i = 0; i < 13; ++i) {
    const VggConv& c = bench::kVgg16Convs[i];
    const bool pool_after = i + 1 < 13 && bench::kVgg16Convs[i + 1].size != c.size;
    layers.push_back({Variable(random({c.out, c.in, 3, 3}, std::sqrt(2.0f / float(c.out * 9)), 20 + i)),
                      Variable(random({c.out}, 0.1f, 40 + i)), reference_for(c, Pass::Forward), pool_after});
    flops += c.flops_per_image() * static_cast<double>(batch);
    ref_flops += c.flops_per_image() * static_cast<double>(batch);
  }
  const Variable input(random({batch, 3, 224, 224}, 1.0f, 5));
  NoGradGuard ng;
  auto forward = [&](bool with_ref, double& conv_s, double& ref_s) {
    Variable h = input;
    for (Layer& l : layers) {
      const auto t0 = Clock::now();
      h = conv2d(h, l.w, l.b, {1, 1, 1, 1});
      conv_s += seconds_since(t0);
      if (with_ref) ref_s += static_cast<double>(batch) * l.ref.run();
      if (l.pool_after) h = max_pool2d(h, 2, 2);
    }
  };
  double conv_s = 0, ref_s = 0;
  if (first_time("stack")) forward(true, conv_s, ref_s);
  conv_s = ref_s = 0;
  for (auto _ : state) {
    double c = 0;
    forward(true, c, ref_s);
    state.SetIterationTime(c);
    conv_s += c;
  }
  // ref_s holds batch * (one SGEMM per layer) per iteration: its flops are the conv flops.
  set_counters(state, flops, conv_s, ref_flops, ref_s);
  state.counters["threads"] = num_threads();
}

void register_all() {
  for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight})
    for (int64_t batch : {1, 8})
      for (const VggConv& c : bench::kVgg16Convs) {
        const std::string name = std::string("conv2d/") + pass_name(pass) + "/b" + std::to_string(batch) + "/" +
                                 c.name + "_" + std::to_string(c.in) + "-" + std::to_string(c.out) + "@" +
                                 std::to_string(c.size);
        benchmark::RegisterBenchmark(name.c_str(), BM_Conv, c, batch, pass, name)
            ->Iterations(iterations_for(c.flops_per_image() * static_cast<double>(batch)))
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
  benchmark::RegisterBenchmark("vgg16_conv_stack/forward/b8", BM_Vgg16ConvStack, 8)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

const int registered = (register_all(), 0);

}  // namespace
