// Tensor storage: 64-byte aligned blocks, with large freed blocks kept for the next tensor of their size.
//
// Why: a training step allocates and frees the same large tensors every step (activations, gradients,
// batches: 134 MB for VGG-16 w0.25's first conv output at 256 px, batch 32). glibc serves blocks above
// 32 MB with fresh mmap()s, so every step the kernel faults in and zeroes those pages again: 21% of a
// w0.25 training step was kernel time. Blocks of at least kCachedMinBytes are therefore kept on free,
// keyed by their exact size, and handed out again; the shapes of one step are the next step's, so after
// the first step nearly every large allocation is a hit (PyTorch's GPU caching allocator, on the CPU).
//
// Bounded: the cache holds at most storage_cache_limit() bytes of free blocks (default a quarter of the
// physical memory, at most 8 GiB; $CXR_STORAGE_CACHE_MB overrides it, 0 turns the cache off). To make room
// the oldest free blocks go first, so one-off sizes (decoded photos, each of its own size) age out instead
// of filling the cache; an allocation that fails empties the cache and retries.
// Under AddressSanitizer the cache is off, so a use after free of a tensor is still caught.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cxr {

inline constexpr size_t kCachedMinBytes = size_t{1} << 20;  // 1 MiB: smaller blocks are malloc's business

// `bytes` rounded up to a multiple of 64 (at least 64), aligned to 64 bytes; throws cxr::Error when the
// memory is not there. The contents are uninitialised (a cached block holds its previous tensor's values).
void* allocate_storage(size_t bytes);
// Gives back a block from allocate_storage with the same `bytes`. Never throws (it runs in destructors).
void free_storage(void* p, size_t bytes) noexcept;

struct StorageCacheStats {
  size_t cached_bytes = 0;   // free blocks held now
  size_t cached_blocks = 0;
  uint64_t hits = 0;         // large allocations served from the cache
  uint64_t misses = 0;       // large allocations that went to the system
};
StorageCacheStats storage_cache_stats();

// Bytes of tensor storage handed out and not yet given back (the cache's free blocks not counted), and the
// most there has been since the last reset_storage_peak(): what a training step really needs, which the
// process's RSS hides behind the cache and malloc's own reuse.
struct StorageUse {
  size_t live_bytes = 0;
  size_t peak_bytes = 0;
};
// Relaxed atomic counters: while other threads allocate, a reading may show the peak a moment behind the
// live bytes, and a reset may miss a peak reached at the same instant; for measuring a step, that is fine.
StorageUse storage_use();
void reset_storage_peak();  // the peak becomes the bytes live now
size_t storage_cache_limit();
void set_storage_cache_limit(size_t bytes);  // 0: off (frees what is held)
void release_storage_cache();                // frees every cached block

}  // namespace cxr
