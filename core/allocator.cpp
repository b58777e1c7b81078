#include "core/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace cxr {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

size_t default_limit() {
  if (kSanitized) return 0;
  if (const char* env = std::getenv("CXR_STORAGE_CACHE_MB")) {
    char* end = nullptr;
    const long long mb = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && mb >= 0) return static_cast<size_t>(std::min(mb, 1LL << 30)) << 20;
    std::fprintf(stderr, "cxr: warning: CXR_STORAGE_CACHE_MB=%s is not a number of MiB (>= 0); using the "
                         "default\n", env);
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t phys = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min(phys / 4, size_t{8} << 30);
}

struct Block {
  size_t bytes;
  void* p;
};

// Free blocks in the order they were given back (oldest first), and by size, each size's blocks oldest
// first. When a block would not fit under the limit, the oldest blocks go first: a size that never
// comes back (a decoded photo of its own size) ages out instead of holding the cache for good.
struct Cache {
  std::mutex m;
  std::list<Block> order;
  std::unordered_map<size_t, std::vector<std::list<Block>::iterator>> by_size;
  size_t cached_bytes = 0;
  size_t limit = default_limit();
  uint64_t hits = 0, misses = 0;

  void* take(size_t bytes) {
    auto it = by_size.find(bytes);
    if (it == by_size.end() || it->second.empty()) return nullptr;
    auto block = it->second.back();  // the most recent of that size: likeliest still in the CPU's caches
    it->second.pop_back();
    void* p = block->p;
    order.erase(block);
    cached_bytes -= bytes;
    return p;
  }
  void evict_oldest() {
    Block b = order.front();
    auto& same = by_size[b.bytes];
    same.erase(same.begin());  // the oldest block of its size is the oldest block overall of that size
    order.pop_front();
    cached_bytes -= b.bytes;
    std::free(b.p);
  }
  bool keep(void* p, size_t bytes) {  // false: the block does not fit (the caller frees it)
    if (bytes > limit) return false;
    while (cached_bytes + bytes > limit) evict_oldest();
    order.push_back({bytes, p});
    by_size[bytes].push_back(std::prev(order.end()));
    cached_bytes += bytes;
    return true;
  }
  void release_all() {
    while (!order.empty()) evict_oldest();
    by_size.clear();
  }
};

// Never destroyed: tensors held by static objects may be freed after any destructor of this file's statics.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

size_t round_bytes(size_t bytes) { return std::max<size_t>(64, (bytes + 63) / 64 * 64); }

std::atomic<size_t> g_live{0}, g_peak{0};

void count_allocation(size_t bytes) {
  const size_t now = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

}  // namespace

void* allocate_storage(size_t bytes) {
  bytes = round_bytes(bytes);
  Cache& c = cache();
  if (bytes >= kCachedMinBytes) {
    std::lock_guard<std::mutex> lk(c.m);
    if (void* p = c.take(bytes)) {
      ++c.hits;
      count_allocation(bytes);
      return p;
    }
    ++c.misses;
  }
  void* p = std::aligned_alloc(64, bytes);
  if (!p) {  // the cache may hold what is missing
    {
      std::lock_guard<std::mutex> lk(c.m);
      c.release_all();
    }
    p = std::aligned_alloc(64, bytes);
  }
  if (!p) throw Error(str("out of memory allocating ", bytes, " bytes of tensor storage"));
  count_allocation(bytes);
  return p;
}

void free_storage(void* p, size_t bytes) noexcept {
  if (!p) return;
  bytes = round_bytes(bytes);
  g_live.fetch_sub(bytes, std::memory_order_relaxed);
  if (bytes >= kCachedMinBytes) {
    Cache& c = cache();
    try {
      std::lock_guard<std::mutex> lk(c.m);
      if (c.keep(p, bytes)) return;
    } catch (...) {  // no memory for the bookkeeping: a destructor must not throw, so free the block
    }
  }
  std::free(p);
}

StorageCacheStats storage_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  return {c.cached_bytes, c.order.size(), c.hits, c.misses};
}

StorageUse storage_use() {
  return {g_live.load(std::memory_order_relaxed), g_peak.load(std::memory_order_relaxed)};
}

void reset_storage_peak() { g_peak.store(g_live.load(std::memory_order_relaxed), std::memory_order_relaxed); }

size_t storage_cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  return c.limit;
}

void set_storage_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  c.limit = bytes;
  while (c.cached_bytes > bytes) c.evict_oldest();
}

void release_storage_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  c.release_all();
}

}  // namespace cxr
