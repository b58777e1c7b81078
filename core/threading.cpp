#include "core/threading.h"

#include <omp.h>

#include <cstdlib>
#include <string>
#include <thread>

#include <cblas.h>

namespace cxr {

static int g_threads = 0;
static int g_processes_per_node = 1;

void set_processes_per_node(int n) { g_processes_per_node = n > 0 ? n : 1; }

int default_num_threads() {
  if (const char* env = std::getenv("CXR_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 1024) return static_cast<int>(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  const int cores = hw ? static_cast<int>(hw) : 1;
  return cores / g_processes_per_node > 0 ? cores / g_processes_per_node : 1;
}

void set_num_threads(int n) {
  if (n <= 0) n = default_num_threads();
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() {
  if (g_threads == 0) set_num_threads(0);
  return g_threads;
}

void adopt_num_threads() { omp_set_num_threads(num_threads()); }

BlasSingleThread::BlasSingleThread() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
BlasSingleThread::~BlasSingleThread() { openblas_set_num_threads(saved_); }

}  // namespace cxr
