#include "core/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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
    if (end != env && *end == '\0' && mb >= 0) return static_cast<size_t>(mb) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t phys = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min(phys / 4, size_t{8} << 30);
}

struct Cache {
  std::mutex m;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // exact size -> blocks
  size_t cached_bytes = 0, cached_blocks = 0;
  size_t limit = default_limit();
  uint64_t hits = 0, misses = 0;

  void release_all() {  // with m held
    for (auto& [bytes, blocks] : free_blocks)
      for (void* p : blocks) std::free(p);
    free_blocks.clear();
    cached_bytes = cached_blocks = 0;
  }
};

// Never destroyed: tensors held by static objects may be freed after any destructor of this file's statics.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

size_t round_bytes(size_t bytes) { return std::max<size_t>(64, (bytes + 63) / 64 * 64); }

}  // namespace

void* allocate_storage(size_t bytes) {
  bytes = round_bytes(bytes);
  Cache& c = cache();
  if (bytes >= kCachedMinBytes) {
    std::lock_guard<std::mutex> lk(c.m);
    auto it = c.free_blocks.find(bytes);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached_bytes -= bytes;
      --c.cached_blocks;
      ++c.hits;
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
  return p;
}

void free_storage(void* p, size_t bytes) {
  if (!p) return;
  bytes = round_bytes(bytes);
  if (bytes >= kCachedMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lk(c.m);
    if (c.cached_bytes + bytes <= c.limit) {
      c.free_blocks[bytes].push_back(p);
      c.cached_bytes += bytes;
      ++c.cached_blocks;
      return;
    }
  }
  std::free(p);
}

StorageCacheStats storage_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  return {c.cached_bytes, c.cached_blocks, c.hits, c.misses};
}

size_t storage_cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  return c.limit;
}

void set_storage_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  c.limit = bytes;
  if (c.cached_bytes > bytes) c.release_all();
}

void release_storage_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lk(c.m);
  c.release_all();
}

}  // namespace cxr
