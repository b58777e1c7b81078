// winograd_vs_im2col: conv2d by Winograd F(2x2, 3x3) against im2col + SGEMM on VGG-16's 13 convolutions at
// 224 px, forward and backward-data, at batch 1 and 8, as ratios measured in one run.
//
// On a shared, noisy machine a ratio of two separate runs says little; here every repetition times the
// four variants of a layer back to back (im2col forward, Winograd forward, im2col backward-data, Winograd
// backward-data), and the table gives the median time of each over the repetitions and the ratio of the
// medians (> 1: Winograd is faster). Not a Google Benchmark: the interleaving is the point.
//   build/bench/winograd_vs_im2col [--reps 5] [--batch 1,8] [--layers conv1_1,conv3_2]   (CXR_THREADS=1 ...)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/vgg16_convs.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/threading.h"
#include "layers/conv2d.h"

using namespace cxr;

namespace {

using Clock = std::chrono::steady_clock;

Tensor random(const Shape& s, float scale, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = scale * rng.uniform(-1.0f, 1.0f);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds of one forward (no graph) or one backward-data of the layer with `algo`.
struct LayerRun {
  Tensor x, w, b, dy;
  double forward(ConvAlgo algo) {
    Conv2dOptions o{1, 1, 1, 1, algo};
    NoGradGuard ng;
    const auto t0 = Clock::now();
    Variable y = conv2d(Variable(x), Variable(w), Variable(b), o);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  double backward_data(ConvAlgo algo) {
    Conv2dOptions o{1, 1, 1, 1, algo};
    Variable xv(x, true);
    Variable y = conv2d(xv, Variable(w), Variable(b), o);
    const auto t0 = Clock::now();
    y.backward(dy);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::vector<int64_t> batches{1, 8};
  std::vector<std::string> only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--reps") reps = std::max(1, std::atoi(v.c_str()));
    else if (a == "--batch") {
      batches.clear();
      for (const std::string& b : split(v, ',')) batches.push_back(std::atoll(b.c_str()));
    } else if (a == "--layers") only = split(v, ',');
  }
  set_num_threads(0);
  std::printf("threads %d, %d repetitions, median ms (ratio = im2col / winograd: > 1 means Winograd is faster)\n",
              num_threads(), reps);
  std::printf("%-8s %5s %9s %10s %10s %6s %10s %10s %6s\n", "layer", "batch", "C->K", "fwd im2col", "fwd wino",
              "ratio", "bwd im2col", "bwd wino", "ratio");
  for (int64_t batch : batches) {
    double sum[4] = {0, 0, 0, 0};
    for (const bench::VggConv& c : bench::kVgg16Convs) {
      if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
      LayerRun l{random({batch, c.in, c.size, c.size}, 1.0f, 1),
                 random({c.out, c.in, 3, 3}, std::sqrt(2.0f / float(c.in * 9)), 2), random({c.out}, 0.1f, 3),
                 random({batch, c.out, c.size, c.size}, 1.0f, 4)};
      l.forward(ConvAlgo::im2col);  // page faults and workspace growth, untimed
      l.forward(ConvAlgo::winograd);
      std::vector<double> t[4];
      for (int r = 0; r < reps; ++r) {
        t[0].push_back(l.forward(ConvAlgo::im2col));
        t[1].push_back(l.forward(ConvAlgo::winograd));
        t[2].push_back(l.backward_data(ConvAlgo::im2col));
        t[3].push_back(l.backward_data(ConvAlgo::winograd));
      }
      double m[4];
      for (int i = 0; i < 4; ++i) sum[i] += m[i] = median(t[i]);
      std::printf("%-8s %5lld %4lld->%-4lld %10.2f %10.2f %6.2f %10.2f %10.2f %6.2f\n", c.name, (long long)batch,
                  (long long)c.in, (long long)c.out, 1e3 * m[0], 1e3 * m[1], m[0] / m[1], 1e3 * m[2], 1e3 * m[3],
                  m[2] / m[3]);
      std::fflush(stdout);
    }
    std::printf("%-8s %5lld %9s %10.2f %10.2f %6.2f %10.2f %10.2f %6.2f\n", "sum", (long long)batch, "", 1e3 * sum[0],
                1e3 * sum[1], sum[0] / sum[1], 1e3 * sum[2], 1e3 * sum[3], sum[2] / sum[3]);
  }
  return 0;
}
