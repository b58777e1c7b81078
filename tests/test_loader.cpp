// data/loader: batches, determinism across worker counts, cache, bad files, shutdown, balanced sampling.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "data/loader.h"
#include "image/image.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::image;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path root;
  TempDir() {
    static int counter = 0;
    root = fs::temp_directory_path() / str("cxr_test_loader_", getpid(), "_", counter++);
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// Image k: a 10 x 12 gray pattern of its own, exactly representable in 8 bits.
Tensor pattern(int k) {
  Tensor t = Tensor::empty({1, 10, 12});
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 12; ++x) t.at({0, y, x}) = static_cast<float>((k * 37 + y * 11 + x * 5) % 256) / 255.0f;
  return t;
}

// n PNGs with labels cycling through `labels` (or given per image), in a dataset of 3 classes.
Dataset make_dataset(const TempDir& t, int n, const std::vector<int>& labels = {}) {
  Dataset ds;
  ds.origin = t.root.string();
  ds.class_names = {"COVID19", "NORMAL", "PNEUMONIA"};
  for (int k = 0; k < n; ++k) {
    std::string path = (t.root / str("img", k, ".png")).string();
    save_png(path, pattern(k));
    Sample s;
    s.path = path;
    s.label = labels.empty() ? k % 3 : labels[k];
    ds.samples.push_back(s);
  }
  return ds;
}

LoaderOptions small(int batch, int workers) {
  LoaderOptions o;
  o.image_size = 8;
  o.channels = 3;
  o.batch_size = batch;
  o.workers = workers;
  o.seed = 7;
  return o;
}

std::vector<Batch> run_epoch(Loader& l, int64_t epoch) {
  std::vector<Batch> out;
  l.start_epoch(epoch);
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}

std::vector<int64_t> all_indices(const std::vector<Batch>& bs) {
  std::vector<int64_t> v;
  for (const Batch& b : bs) v.insert(v.end(), b.indices.begin(), b.indices.end());
  return v;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    ASSERT_EQ(a[i].labels, b[i].labels) << "batch " << i;
    ASSERT_EQ(a[i].images.shape(), b[i].images.shape());
    for (int64_t j = 0; j < a[i].images.numel(); ++j) ASSERT_EQ(a[i].images[j], b[i].images[j]) << "batch " << i;
  }
}

}  // namespace

TEST(Loader, EpochYieldsEverySampleOnceWithTheRightPixels) {
  TempDir t;
  Dataset ds = make_dataset(t, 21);
  Loader loader(ds, small(4, 2));
  EXPECT_EQ(loader.batches_per_epoch(), 6);
  auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(batches[i].size(), 4);
  EXPECT_EQ(batches[5].size(), 1);
  auto idx = all_indices(batches);
  std::vector<int64_t> sorted = idx;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 21; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(idx, sorted);  // shuffled

  // Each slot holds its sample: the image resized independently here, gray copied into R, G and B.
  for (const Batch& b : batches) {
    EXPECT_EQ(b.images.shape(), (Shape{b.size(), 3, 8, 8}));
    for (int64_t j = 0; j < b.size(); ++j) {
      EXPECT_EQ(b.labels[j], ds.samples[b.indices[j]].label);
      Tensor want = resize(load_image(ds.samples[b.indices[j]].path).pixels, 8, 8);
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t p = 0; p < 64; ++p) ASSERT_EQ(b.images[(j * 3 + c) * 64 + p], want[p]);
    }
  }
}

TEST(Loader, DropLastAndNoShuffle) {
  TempDir t;
  Dataset ds = make_dataset(t, 21);
  LoaderOptions o = small(4, 1);
  o.drop_last = true;
  o.shuffle = false;
  Loader loader(ds, o);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  auto batches = run_epoch(loader, 3);
  ASSERT_EQ(batches.size(), 5u);
  auto idx = all_indices(batches);
  ASSERT_EQ(idx.size(), 20u);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(idx[i], i);
  EXPECT_EQ(batches[2].number, 2);
  EXPECT_EQ(batches[2].epoch, 3);
}

TEST(Loader, SameSeedSameBatchesWhateverTheWorkerCount) {
  TempDir t;
  Dataset ds = make_dataset(t, 23);
  LoaderOptions o = small(5, 1);
  o.augment = AugmentParams::xray();
  o.augment.rotation_range = 20;
  o.augment.noise_std = 0.02f;
  LoaderOptions o3 = o;
  o3.workers = 3;
  o3.prefetch = 0;
  Loader one(ds, o), three(ds, o3);
  EXPECT_EQ(three.workers(), 3);
  auto a0 = run_epoch(one, 0), b0 = run_epoch(three, 0);
  expect_same_batches(a0, b0);
  auto a1 = run_epoch(one, 1), b1 = run_epoch(three, 1);
  expect_same_batches(a1, b1);
  EXPECT_NE(all_indices(a0), all_indices(a1));  // epochs differ

  LoaderOptions other = o;
  other.seed = 8;
  Loader diff(ds, other);
  EXPECT_NE(all_indices(run_epoch(diff, 0)), all_indices(a0));

  // Augmentation is on: the same sample looks different in two epochs.
  Tensor s0 = one.load_sample(4, 0, true), s1 = one.load_sample(4, 1, true), plain = one.load_sample(4);
  int differ = 0;
  for (int64_t i = 0; i < s0.numel(); ++i) differ += s0[i] != s1[i];
  EXPECT_GT(differ, s0.numel() / 2);
  // load_sample reproduces the batch slot of that sample.
  int found = 0;
  for (const Batch& b : a1) {
    for (int64_t j = 0; j < b.size(); ++j) {
      if (b.indices[j] != 4) continue;
      ++found;
      for (int64_t p = 0; p < s1.numel(); ++p) ASSERT_EQ(b.images[j * s1.numel() + p], s1[p]);
    }
  }
  EXPECT_EQ(found, 1);
  for (int64_t i = 0; i < plain.numel(); ++i) ASSERT_GE(plain[i], 0.0f);
}

TEST(Loader, OneChannelAndNormalisation) {
  TempDir t;
  Dataset ds;
  ds.class_names = {"A"};
  for (int k = 0; k < 3; ++k) {
    std::string p = (t.root / str("c", k, ".png")).string();
    save_png(p, Tensor::full({3, 6, 6}, k * 0.25f));  // RGB gray: luma equals the value
    ds.samples.push_back({p, 0, "", "", "", "", ""});
  }
  LoaderOptions o = small(3, 1);
  o.channels = 1;
  o.shuffle = false;
  o.image_size = 4;
  o.normalisation = normalisation_preset("half");
  Loader loader(ds, o);
  auto bs = run_epoch(loader, 0);
  ASSERT_EQ(bs.size(), 1u);
  EXPECT_EQ(bs[0].images.shape(), (Shape{3, 1, 4, 4}));
  for (int k = 0; k < 3; ++k)
    for (int p = 0; p < 16; ++p) EXPECT_NEAR(bs[0].images[k * 16 + p], (k * 0.25f - 0.5f) / 0.5f, 4.5e-3f);  // 8-bit rounding: 0.5 / 255 / 0.5
}

TEST(Loader, CacheServesLaterEpochs) {
  TempDir t;
  Dataset ds = make_dataset(t, 12);
  Loader cached(ds, small(5, 2));
  run_epoch(cached, 0);
  EXPECT_EQ(cached.decode_count(), 12);
  EXPECT_EQ(cached.cached_count(), 12);
  EXPECT_EQ(cached.cached_bytes(), 12 * 1 * 8 * 8 * 4);  // gray images cached as one channel
  auto e1 = run_epoch(cached, 1);
  EXPECT_EQ(cached.decode_count(), 12);  // nothing decoded again

  LoaderOptions none = small(5, 2);
  none.cache_bytes = 0;
  Loader uncached(ds, none);
  expect_same_batches(run_epoch(uncached, 1), e1);  // the cache changes nothing but speed
  run_epoch(uncached, 2);
  EXPECT_EQ(uncached.decode_count(), 24);
  EXPECT_EQ(uncached.cached_count(), 0);

  LoaderOptions some = small(5, 1);
  some.cache_bytes = 5 * 8 * 8 * 4;  // room for five
  Loader partial(ds, some);
  run_epoch(partial, 0);
  run_epoch(partial, 1);
  EXPECT_EQ(partial.cached_count(), 5);
  EXPECT_EQ(partial.decode_count(), 12 + 7);
}

TEST(Loader, BadFilesErrorOrSkip) {
  TempDir t;
  Dataset ds = make_dataset(t, 10);
  auto add_bad = [&](const std::string& name, const std::string& bytes) {
    std::string p = (t.root / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    ds.samples.push_back({p, 1, "", "", "", "", ""});
    return p;
  };
  std::string png = read_file(ds.samples[0].path);
  std::string garbage = add_bad("garbage.png", "this is not an image at all");
  add_bad("truncated.png", png.substr(0, png.size() / 2));
  add_bad("empty.jpg", "");
  const int64_t good = 10;

  // Without skip_bad the epoch stops with an error naming the first bad file in order.
  LoaderOptions strict = small(4, 2);
  strict.shuffle = false;
  {
    Loader loader(ds, strict);
    loader.start_epoch(0);
    Batch b;
    std::string err;
    try {
      while (loader.next(b)) {
      }
    } catch (const Error& e) {
      err = e.what();
    }
    EXPECT_NE(err.find(garbage), std::string::npos) << err;
    EXPECT_FALSE(loader.next(b));  // the broken epoch is over
    loader.start_epoch(1);         // and a new one runs into it again
    EXPECT_THROW(
        while (loader.next(b)) {}, Error);
  }

  // With skip_bad every good sample still comes, and each bad file is counted once.
  LoaderOptions lenient = small(4, 2);
  lenient.skip_bad = true;
  Loader loader(ds, lenient);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    auto idx = all_indices(run_epoch(loader, epoch));
    std::sort(idx.begin(), idx.end());
    ASSERT_EQ(static_cast<int64_t>(idx.size()), good) << "epoch " << epoch;
    for (int64_t i = 0; i < good; ++i) EXPECT_EQ(idx[i], i);
    EXPECT_EQ(loader.bad_count(), 3);
  }
  EXPECT_EQ(loader.decode_count(), good + 3);  // cached good ones, bad ones remembered
  auto bad = loader.bad_files();
  EXPECT_EQ(std::count(bad.begin(), bad.end(), garbage), 1);
}

TEST(Loader, RestartAndDestroyMidEpoch) {
  TempDir t;
  Dataset ds = make_dataset(t, 21);
  LoaderOptions o = small(1, 3);
  o.prefetch = 1;
  o.cache_bytes = 0;
  {
    Loader loader(ds, o);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(b));
    ASSERT_TRUE(loader.next(b));
    loader.start_epoch(1);  // drop the rest of epoch 0
    EXPECT_EQ(all_indices(run_epoch(loader, 1)).size(), 21u);
    loader.start_epoch(2);
    ASSERT_TRUE(loader.next(b));
  }  // destroyed with epoch 2 in flight: must join, not hang
  Loader never_started(ds, o);
  Batch b;
  EXPECT_THROW(never_started.next(b), Error);
}

TEST(Loader, BalancedSamplingEvensOutClasses) {
  TempDir t;
  std::vector<int> labels;
  for (int k = 0; k < 30; ++k) labels.push_back(k < 2 ? 0 : (k < 6 ? 1 : 2));  // 2 / 4 / 24
  Dataset ds = make_dataset(t, 30, labels);
  LoaderOptions o = small(10, 2);
  o.balanced = true;
  o.augment = AugmentParams::xray();
  Loader loader(ds, o);
  std::vector<int> per_class(3, 0);
  for (int64_t e = 0; e < 20; ++e) {
    auto order = loader.epoch_order(e);
    ASSERT_EQ(order.size(), 30u);
    for (int64_t i : order) ++per_class[ds.samples[i].label];
  }
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(per_class[c], 200, 45) << "class " << c;
  // Repeats of a sample in one epoch get different augmentations; still deterministic across workers.
  LoaderOptions o1 = o;
  o1.workers = 1;
  Loader one(ds, o1);
  auto a = run_epoch(loader, 3), b = run_epoch(one, 3);
  expect_same_batches(a, b);
}

TEST(Loader, OptionsAreChecked) {
  TempDir t;
  Dataset ds = make_dataset(t, 3);
  LoaderOptions o = small(2, 1);
  o.channels = 2;
  EXPECT_THROW(Loader(ds, o), Error);
  o = small(0, 1);
  EXPECT_THROW(Loader(ds, o), Error);
  o = small(2, 1);
  o.augment.zoom_range = 1.5f;
  EXPECT_THROW(Loader(ds, o), Error);
  o = small(2, 1);
  o.normalisation = normalisation_preset("imagenet");
  o.channels = 1;
  EXPECT_THROW(Loader(ds, o), Error);
  EXPECT_THROW(Loader(Dataset{}, small(2, 1)), Error);
}

TEST(Loader, RealImages) {
  std::string root = std::string(CXR_SHARED_DIR) + "/data/cxr-real";
  if (!fs::exists(root + "/manifest.csv")) GTEST_SKIP() << root << " is absent";
  Dataset ds = open_dataset(root);
  std::vector<int64_t> pick;
  for (int64_t i = 0; i < ds.size(); i += ds.size() / 6) pick.push_back(i);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  o.augment = AugmentParams::xray();
  o.normalisation = normalisation_preset("imagenet");
  Loader loader(ds.subset(pick), o);
  auto bs = run_epoch(loader, 0);
  ASSERT_FALSE(bs.empty());
  EXPECT_EQ(bs[0].images.shape(), (Shape{4, 3, 224, 224}));
  double sum = 0;
  for (int64_t i = 0; i < bs[0].images.numel(); ++i) sum += bs[0].images[i];
  EXPECT_TRUE(std::isfinite(sum));
}
