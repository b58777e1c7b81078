// Allreduce bandwidth and latency on this machine, for the gradient sizes of cxr's models.
// Not a Google Benchmark (every rank must run the same number of reductions): run it under mpirun,
//
//   mpirun -np 2 build/bench/mpi_allreduce [repeats]
//
// For each size, `repeats` (default 7) timed sum-allreduces of float32 after one warm-up; rank 0 prints
// the median time, the algorithm bandwidth (bytes / time) and the bus bandwidth, 2 (N-1)/N bytes / time:
// what each rank sends (and receives) in a ring allreduce, comparable across N. docs/DISTRIBUTED.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dist/comm.h"

int main(int argc, char** argv) {
  cxr::dist::init(&argc, &argv);
  cxr::dist::Comm& comm = cxr::dist::world();
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  struct Size {
    const char* what;
    int64_t floats;
  };
  // VGG-16 at width 1 (torchvision head, 3 classes): 134.3 M parameters; at width 0.25 with the gap head:
  // 920,883 (1 channel, 3 classes). A bucket: 4 MiB. And small messages for latency.
  const std::vector<Size> sizes = {{"4 B (latency)", 1},         {"4 KiB", 1024},
                                   {"64 KiB", 16384},            {"1 MiB", 262144},
                                   {"4 MiB (one bucket)", 1 << 20}, {"VGG-16 w0.25 gap head, 3.7 MB", 920'883},
                                   {"64 MiB", 16 << 20},         {"VGG-16, 537 MB (512 MiB)", 134'272'835}};
  const int n = comm.size();
  if (comm.is_root())
    std::printf("allreduce (sum, float32) over %d rank(s), %s; median of %d\n%-32s %12s %12s %12s\n", n,
                cxr::dist::description().c_str(), repeats, "size", "time", "algbw GB/s", "busbw GB/s");
  for (const Size& s : sizes) {
    std::vector<float> buf(static_cast<size_t>(s.floats), 1.0f);
    comm.allreduce_sum(buf.data(), s.floats);  // warm-up (first touch, connection set-up)
    std::vector<double> t;
    for (int r = 0; r < repeats; ++r) {
      comm.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      comm.allreduce_sum(buf.data(), s.floats);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    const double med = t[t.size() / 2], bytes = 4.0 * static_cast<double>(s.floats);
    if (comm.is_root())
      std::printf("%-32s %10.3f ms %12.2f %12.2f\n", s.what, med * 1e3, bytes / med / 1e9,
                  2.0 * (n - 1) / n * bytes / med / 1e9);
  }
  return 0;
}
