// core/threading: the thread count reaches threads that cxr did not start (an HTTP server's workers).
#include <omp.h>

#include <thread>

#include <gtest/gtest.h>

#include "core/threading.h"

namespace cxr {
namespace {

// OpenMP keeps its thread count per thread, so set_num_threads() on the main thread leaves a new thread at
// OpenMP's default until that thread adopts the count. 3 is nobody's default here (2 cores, CXR_THREADS=1).
TEST(Threading, NewThreadAdoptsTheCount) {
  const int saved = num_threads();
  set_num_threads(3);
  int before = -1, after = -1;
  std::thread t([&] {
    before = omp_get_max_threads();
    adopt_num_threads();
    after = omp_get_max_threads();
  });
  t.join();
  EXPECT_EQ(after, 3);
  if (before == 3) GTEST_LOG_(INFO) << "OpenMP's default is 3 here: the test shows nothing";
  EXPECT_EQ(omp_get_max_threads(), 3);
  set_num_threads(saved);
}

}  // namespace
}  // namespace cxr
