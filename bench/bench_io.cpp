// Input pipeline throughput on the real X-rays (/work/shared/data/cxr-real, 8-bit gray PNGs at 256 x 256):
// each stage on one thread (decode, resize, augment), then the whole Loader (decode + resize + "xray"
// augmentation + 3 channels + ImageNet normalisation, cache off) with 1 and 2 worker threads, at 128 and
// 224 px. Items per second = images per second (wall clock). On a busy machine the wall clock says more about
// the other processes than about us, so each benchmark also reports cpu_ms_per_image: CPU time of the whole
// process (all threads, std::clock) per image, which is what an idle core would need.
// Skipped with a message when the data set is absent.
//
//   build/bench/bench_io --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <omp.h>

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "image/augment.h"
#include "image/image.h"
#include "image/transform.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::image;

namespace {

const std::string kRoot = std::string(CXR_SHARED_DIR) + "/data/cxr-real";
constexpr int64_t kImages = 128;  // images per pass, spread over the manifest

// The benchmark subset (empty when the data set is absent).
const Dataset& subset() {
  static Dataset ds = [] {
    if (!std::filesystem::exists(kRoot + "/manifest.csv")) return Dataset{};
    Dataset all = open_dataset(kRoot);
    std::vector<int64_t> pick;
    for (int64_t k = 0; k < kImages && k < all.size(); ++k) pick.push_back(k * all.size() / kImages);
    return all.subset(pick);
  }();
  return ds;
}

bool skip_if_absent(benchmark::State& state) {
  if (subset().size() > 0) return false;
  state.SkipWithError((kRoot + " is absent: nothing to measure").c_str());
  return true;
}

void report(benchmark::State& state, int64_t images, std::clock_t c0) {
  state.SetItemsProcessed(images);
  double cpu_s = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  if (images > 0) state.counters["cpu_ms_per_image"] = 1e3 * cpu_s / static_cast<double>(images);
}

const std::vector<Tensor>& decoded() {
  static std::vector<Tensor> images = [] {
    std::vector<Tensor> v;
    for (const Sample& s : subset().samples) v.push_back(load_image(s.path).pixels);
    return v;
  }();
  return images;
}

void BM_Decode(benchmark::State& state) {
  if (skip_if_absent(state)) return;
  omp_set_num_threads(1);
  int64_t n = 0;
  std::clock_t c0 = std::clock();
  for (auto _ : state) {
    for (const Sample& s : subset().samples) benchmark::DoNotOptimize(load_image(s.path).pixels.data());
    n += subset().size();
  }
  report(state, n, c0);
}

void BM_Resize(benchmark::State& state) {
  if (skip_if_absent(state)) return;
  omp_set_num_threads(1);
  const int64_t S = state.range(0);
  int64_t n = 0;
  std::clock_t c0 = std::clock();
  for (auto _ : state) {
    for (const Tensor& img : decoded()) benchmark::DoNotOptimize(resize(img, S, S).data());
    n += static_cast<int64_t>(decoded().size());
  }
  report(state, n, c0);
}

void BM_AugmentXray(benchmark::State& state) {
  if (skip_if_absent(state)) return;
  const int64_t S = state.range(0);
  std::vector<Tensor> small;
  for (const Tensor& img : decoded()) small.push_back(resize(img, S, S));
  AugmentParams p = AugmentParams::xray();
  Rng rng(1);
  int64_t n = 0;
  std::clock_t c0 = std::clock();
  for (auto _ : state) {
    for (const Tensor& img : small) benchmark::DoNotOptimize(augment(img, p, rng).data());
    n += static_cast<int64_t>(small.size());
  }
  report(state, n, c0);
}

// The whole pipeline, as training uses it, with the cache off so every epoch decodes again.
void BM_Loader(benchmark::State& state) {
  if (skip_if_absent(state)) return;
  LoaderOptions o;
  o.image_size = static_cast<int>(state.range(0));
  o.workers = static_cast<int>(state.range(1));
  o.channels = 3;
  o.batch_size = 16;
  o.augment = AugmentParams::xray();
  o.normalisation = normalisation_preset("imagenet");
  o.cache_bytes = 0;
  Loader loader(subset(), o);
  int64_t n = 0, epoch = 0;
  std::clock_t c0 = std::clock();
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    Batch b;
    while (loader.next(b)) n += b.size();
  }
  report(state, n, c0);
}

// The same with the cache warm (epochs after the first): resize and decode are skipped.
void BM_LoaderCached(benchmark::State& state) {
  if (skip_if_absent(state)) return;
  LoaderOptions o;
  o.image_size = static_cast<int>(state.range(0));
  o.workers = static_cast<int>(state.range(1));
  o.batch_size = 16;
  o.augment = AugmentParams::xray();
  o.normalisation = normalisation_preset("imagenet");
  Loader loader(subset(), o);
  int64_t n = 0, epoch = 0;
  Batch b;
  loader.start_epoch(epoch++);
  while (loader.next(b)) {
  }
  std::clock_t c0 = std::clock();
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (loader.next(b)) n += b.size();
  }
  report(state, n, c0);
}

}  // namespace

BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Resize)->Arg(128)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AugmentXray)->Arg(128)->Arg(224)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Loader)
    ->ArgNames({"size", "workers"})
    ->Args({128, 1})
    ->Args({128, 2})
    ->Args({224, 1})
    ->Args({224, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LoaderCached)
    ->ArgNames({"size", "workers"})
    ->Args({224, 1})
    ->Args({224, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
