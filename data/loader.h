// Loader: turns a Dataset into batches of model-ready tensors, in parallel with training.
//
// Per sample: decode (image/image.h) -> channels (gray stays gray) -> resize to S x S (image/transform.h, whole
// image, aspect ratio not kept, as Keras's target_size) -> [cache] -> augment (image/augment.h) -> the model's
// 1 or 3 channels -> normalise -> one slot of a [B, C, S, S] batch. Values are already in [0, 1] after
// decoding (the seed notebook's rescale=1/255).
//
// Determinism: the order of an epoch comes from Rng(seed).fork(2 * epoch) (a shuffle, or balanced draws),
// and each sample's augmentation from Rng(seed).fork(2 * epoch + 1).fork(sample index) (.fork(k) again for
// its k-th repeat in a balanced epoch). A batch is a fixed slice of the epoch order. So the same seed gives
// the same batches whatever the worker count or timing, and epochs differ from each other.
//
// Parallelism: `workers` std::threads each build whole batches, claimed in order, at most workers + prefetch
// batches ahead of the consumer (a bounded queue), while the caller trains on the current one. Each worker
// runs its OpenMP regions (the resize) single-threaded, so loading takes `workers` cores, no more.
//
// Cache: prepared (decoded + resized, not augmented) images are kept in memory the first time they are made,
// up to cache_bytes, and reused in later epochs; a gray X-ray is cached as one channel.
//
// Bad files: a file that cannot be decoded stops the epoch with cxr::Error naming it (rethrown by next()).
// With skip_bad the sample is left out of its batch (which is then smaller), a warning naming it is printed
// once to stderr, it is never decoded again, and bad_count() counts it; every good sample is still yielded.
//
// Shutdown: the destructor stops and joins the workers, also in the middle of an epoch.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "image/augment.h"
#include "image/transform.h"

namespace cxr::data {

struct LoaderOptions {
  int image_size = 224;          // S
  int channels = 3;              // the model's input channels: 1 or 3
  int batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;        // leave out a last batch smaller than batch_size
  bool balanced = false;         // draw size() samples with replacement, every class equally likely
  uint64_t seed = 0;
  image::AugmentParams augment;         // none by default; AugmentParams::xray() for X-ray training
  image::Normalisation normalisation;   // empty mean/std: none (values stay in [0, 1])
  int workers = 0;               // 0: default_loader_workers()
  int prefetch = 2;              // batches ready beyond those being built
  int64_t cache_bytes = int64_t(2) << 30;  // 2 GiB; 0 disables the cache
  bool skip_bad = false;
  bool antialias = true;         // resize filter (see image/transform.h)
  // Data parallel (dist/): of each batch of batch_size samples, this loader builds only the rows
  // dist::share(batch size, shard, shards), so a rank decodes only the images it trains on. The epoch's
  // order, its batches and every sample's augmentation are those of the unsharded loader. A shard yields
  // every batch of the epoch, empty where its share is (a last batch smaller than the shard count) or all
  // of its files were bad (skip_bad); one loader skips a batch whose files were all bad.
  int shard = 0, shards = 1;
  // The index of dataset().samples[0] in a larger dataset this one is a part of (a rank's share of an
  // evaluation): augmentation draws are keyed to the index in the whole, so they do not depend on the split.
  int64_t first_sample = 0;
};

// max(1, min(4, num_threads() - 1)): leaves the other cores to training.
int default_loader_workers();

struct Batch {
  Tensor images;                 // [B, C, S, S]
  std::vector<int> labels;       // B class indices
  std::vector<int64_t> indices;  // B indices into dataset().samples
  int64_t epoch = 0;
  int64_t number = 0;            // position of the batch in its epoch
  int64_t offset = 0;            // row of images[0] in the whole batch (non-zero only for a shard)
  int64_t global_size = 0;       // rows of the whole batch, over all shards (before skipping bad files)
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Decoded image -> [C', S, S] before augmentation: C' = 1 for gray images or a 1-channel model, else 3.
Tensor prepare_image(const Tensor& decoded, int image_size, int channels, bool antialias = true);
// The whole evaluation-time pipeline for one image: prepare, to `channels`, normalise -> [channels, S, S].
Tensor preprocess_image(const Tensor& decoded, int image_size, int channels, const image::Normalisation& n,
                        bool antialias = true);

class Loader {
 public:
  Loader(Dataset dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Begins (or restarts) an epoch; batches of a previous, unfinished epoch are dropped.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch; false when the epoch is over. Rethrows a worker's error.
  bool next(Batch& batch);

  int64_t batches_per_epoch() const;
  std::vector<int64_t> epoch_order(int64_t epoch) const;  // the sample indices of an epoch, in order
  // One sample through the same pipeline, on the calling thread (augmented as in `epoch` when augment).
  Tensor load_sample(int64_t index, int64_t epoch = 0, bool augment = false);

  int64_t bad_count() const;                // distinct bad files met so far (skip_bad)
  std::vector<std::string> bad_files() const;
  int64_t decode_count() const;             // files decoded so far (a cache hit decodes nothing)
  int64_t cached_count() const;
  int64_t cached_bytes() const;
  int workers() const;
  const Dataset& dataset() const;
  const LoaderOptions& options() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace cxr::data
