#include "core/workspace.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace cxr {

namespace {
constexpr int kSlots = 6;  // conv2d: 0-2 (im2col), 3-5 (Winograd)
std::atomic<size_t> g_total{0};

struct Buffers {
  float* ptr[kSlots] = {};
  size_t cap[kSlots] = {};
  ~Buffers() {
    for (int i = 0; i < kSlots; ++i) {
      g_total -= cap[i] * sizeof(float);
      std::free(ptr[i]);
    }
  }
};
thread_local Buffers t_buffers;
}  // namespace

float* scratch(size_t floats, int slot) {
  if (slot < 0 || slot >= kSlots) throw std::bad_alloc();
  Buffers& b = t_buffers;
  if (floats > b.cap[slot]) {
    std::free(b.ptr[slot]);
    g_total -= b.cap[slot] * sizeof(float);
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    b.ptr[slot] = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!b.ptr[slot]) {
      b.cap[slot] = 0;
      throw std::bad_alloc();
    }
    b.cap[slot] = floats;
    g_total += floats * sizeof(float);
  }
  return b.ptr[slot];
}

size_t scratch_bytes() { return g_total.load(); }

void release_scratch() {
  Buffers& b = t_buffers;
  for (int i = 0; i < kSlots; ++i) {
    g_total -= b.cap[i] * sizeof(float);
    std::free(b.ptr[i]);
    b.ptr[i] = nullptr;
    b.cap[i] = 0;
  }
}

}  // namespace cxr
