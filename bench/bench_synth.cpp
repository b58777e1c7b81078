// data/synth throughput on one thread: rendering one phantom (image + masks), and rendering plus encoding the
// three PNGs that write_dataset stores per image (encoding only, no file system).
#include <benchmark/benchmark.h>

#include "data/synth.h"
#include "image/png.h"

namespace {

void BM_SynthRender(benchmark::State& state) {
  cxr::data::SynthOptions o;
  o.size = static_cast<int>(state.range(0));
  const char* classes[3] = {"COVID19", "NORMAL", "PNEUMONIA"};
  uint64_t i = 0;
  for (auto _ : state) {
    auto s = cxr::data::render_sample(o, classes[i % 3], i);
    benchmark::DoNotOptimize(s.image.data());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SynthRender)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

void BM_SynthRenderAndEncode(benchmark::State& state) {
  cxr::data::SynthOptions o;
  o.size = static_cast<int>(state.range(0));
  const char* classes[3] = {"COVID19", "NORMAL", "PNEUMONIA"};
  uint64_t i = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    auto s = cxr::data::render_sample(o, classes[i % 3], i);
    bytes += cxr::image::detail::encode_png(s.image, "image").size();
    bytes += cxr::image::detail::encode_png(s.lung_mask, "lung").size();
    bytes += cxr::image::detail::encode_png(s.lesion_mask, "lesion").size();
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["png_bytes_per_image"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SynthRenderAndEncode)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace
