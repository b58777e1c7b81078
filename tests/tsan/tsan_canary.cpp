// The ThreadSanitizer build's own check (docs/RELIABILITY.md, "ThreadSanitizer"): a clean run of the threaded
// tests means something only if TSan sees OpenMP's synchronisation (else it would report every parallel loop,
// as with GCC's libgomp) and still sees a real race. Each mode is one ctest:
//   barrier      threads exchange data across an OpenMP barrier and a parallel for: must be reported clean
//   omp-race     the same exchange without the barrier: must be reported as a data race
//   thread-race  two std::threads increment one int without a lock: must be reported as a data race
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

// Thread t writes slot t; after the barrier one thread sums every slot.
long exchange(bool with_barrier) {
  std::vector<long> v(4, 0);
  long sum = 0;
#pragma omp parallel num_threads(4)
  {
    v[omp_get_thread_num()] = omp_get_thread_num() + 1;
    if (with_barrier) {
#pragma omp barrier
    }
#pragma omp single nowait
    for (long x : v) sum += x;
  }
  // A parallel for whose results the serial code reads after the join.
  std::vector<float> a(1 << 12);
#pragma omp parallel for schedule(static) num_threads(4)
  for (int i = 0; i < static_cast<int>(a.size()); ++i) a[i] = static_cast<float>(i);
  for (float x : a) sum += static_cast<long>(x);
  return sum;
}

int thread_race() {
  int counter = 0;
  std::thread a([&] { for (int i = 0; i < 1000; ++i) ++counter; });
  std::thread b([&] { for (int i = 0; i < 1000; ++i) ++counter; });
  a.join();
  b.join();
  return counter;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tsan_canary barrier|omp-race|thread-race\n");
    return 2;
  }
  if (!std::strcmp(argv[1], "barrier")) std::printf("%ld\n", exchange(true));
  else if (!std::strcmp(argv[1], "omp-race")) std::printf("%ld\n", exchange(false));
  else if (!std::strcmp(argv[1], "thread-race")) std::printf("%d\n", thread_race());
  else return 2;
  return 0;
}
