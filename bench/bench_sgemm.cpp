// bench_sgemm: OpenBLAS SGEMM through core/blas.h, the ceiling conv2d is measured against.
//
// Square 1024 and the forward GEMM of each VGG-16 convolution (M = out channels, N = Ho*Wo, K = in*9), each
// with every thread (how batch 1 runs) and with one thread (what each thread runs when conv2d splits a
// batch over images). Counter GFLOP/s = 2*M*N*K / time.
//   build-conv/bench/bench_sgemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "bench/vgg16_convs.h"
#include "core/blas.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/threading.h"

using namespace cxr;

namespace {

Tensor random_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty({rows, cols});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

void BM_Sgemm(benchmark::State& state, int64_t M, int64_t N, int64_t K, bool all_threads) {
  const int saved = num_threads();
  if (!all_threads) set_num_threads(1);
  Tensor A = random_matrix(M, K, 1), B = random_matrix(K, N, 2), C = Tensor::empty({M, N});
  sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);  // warm-up: buffers, pages
  for (auto _ : state) {
    sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(gemm_flops(M, N, K) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = num_threads();
  set_num_threads(saved);
}

// Enough iterations for about 4 GFLOP of work: a fraction of a second, whatever the shape.
int64_t iterations_for(double flops) { return std::clamp<int64_t>(static_cast<int64_t>(4e9 / flops), 1, 200); }

void register_all() {
  for (bool all : {true, false}) {
    const std::string t = all ? "/threads:all" : "/threads:1";
    benchmark::RegisterBenchmark(("sgemm/square_1024" + t).c_str(), BM_Sgemm, 1024, 1024, 1024, all)
        ->Iterations(iterations_for(gemm_flops(1024, 1024, 1024)))
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    for (const bench::VggConv& c : bench::kVgg16Convs) {
      const std::string name = "sgemm/vgg16_" + std::string(c.name) + "/M" + std::to_string(c.M()) + "_N" +
                               std::to_string(c.N()) + "_K" + std::to_string(c.K()) + t;
      benchmark::RegisterBenchmark(name.c_str(), BM_Sgemm, c.M(), c.N(), c.K(), all)
          ->Iterations(iterations_for(c.flops_per_image()))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

const int registered = (register_all(), 0);

}  // namespace
