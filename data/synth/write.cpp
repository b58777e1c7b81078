// write_dataset: renders every image of every split and class in parallel and writes the PNGs, the masks
// and manifest.csv (see data/synth.h for the layout).
//
// The PNGs are written with plain writes, not save_png's fsync'ed atomic replace: three fsyncs per image
// made generation I/O-bound (5x slower wall time) for files that can always be regenerated. manifest.csv is
// written last and atomically, so a dataset whose manifest exists is complete.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/threading.h"
#include "data/synth.h"
#include "image/image.h"
#include "image/png.h"

namespace cxr::data {

namespace fs = std::filesystem;

namespace {

struct Job {
  int split;  // 0 train, 1 val, 2 test
  std::string cls;
  int64_t index;  // within (split, class)
  std::string id;  // patient id and file stem
  bool shortcut = false;
  std::string error;
};

const char* kSplits[3] = {"train", "val", "test"};

std::string image_rel(const Job& j) { return std::string(kSplits[j.split]) + "/" + j.cls + "/" + j.id + ".png"; }
std::string mask_rel(const char* kind, const Job& j) {
  return std::string("masks/") + kind + "/" + kSplits[j.split] + "/" + j.cls + "/" + j.id + ".png";
}

void write_png(const std::string& path, const Tensor& chw) {
  std::string bytes = image::detail::encode_png(chw, path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  CXR_CHECK(out.good(), path, ": cannot write");
}

}  // namespace

SynthStats write_dataset(const SynthOptions& opts, const std::string& out_dir) {
  validate(opts);
  CXR_CHECK(!out_dir.empty(), "synth: no output folder given");
  auto t0 = std::chrono::steady_clock::now();
  // Classes in the generator's fixed order, so ids do not depend on the order of --classes.
  std::vector<std::string> classes;
  for (const auto& c : synth_class_names())
    for (const auto& want : opts.classes)
      if (want == c) {
        classes.push_back(c);
        break;
      }
  const int counts[3] = {opts.train, opts.val, opts.test};
  std::vector<Job> jobs;
  SynthStats stats;
  for (int s = 0; s < 3; ++s)
    for (const auto& c : classes)
      for (int64_t i = 0; i < counts[s]; ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "synth-%06lld", static_cast<long long>(jobs.size()));
        jobs.push_back({s, c, i, id, false, {}});
        ++stats.per_split[s];
      }
  std::error_code ec;
  for (int s = 0; s < 3; ++s) {
    if (counts[s] == 0) continue;
    for (const auto& c : classes) {
      std::vector<fs::path> dirs = {fs::path(out_dir) / kSplits[s] / c,
                                    fs::path(out_dir) / "masks" / "lung" / kSplits[s] / c,
                                    fs::path(out_dir) / "masks" / "lesion" / kSplits[s] / c};
      if (opts.marker_masks && opts.shortcut_rate > 0.f && c == opts.shortcut_class)
        dirs.push_back(fs::path(out_dir) / "masks" / "marker" / kSplits[s] / c);
      for (const auto& d : dirs) {
        fs::create_directories(d, ec);
        CXR_CHECK(!ec, d.string(), ": cannot create folder: ", ec.message());
      }
    }
  }

  const fs::path root(out_dir);
#pragma omp parallel for schedule(dynamic) num_threads(num_threads())
  for (size_t k = 0; k < jobs.size(); ++k) {
    Job& j = jobs[k];
    try {
      SynthSample smp = render_sample(opts, j.cls, sample_seed(opts.seed, kSplits[j.split], j.cls, j.index));
      j.shortcut = smp.shortcut;
      write_png((root / image_rel(j)).string(), smp.image);
      write_png((root / mask_rel("lung", j)).string(), smp.lung_mask);
      write_png((root / mask_rel("lesion", j)).string(), smp.lesion_mask);
      if (smp.shortcut && opts.marker_masks) write_png((root / mask_rel("marker", j)).string(), smp.marker_mask);
    } catch (const std::exception& e) {
      j.error = e.what();
    }
  }
  for (const Job& j : jobs) CXR_CHECK(j.error.empty(), "synth: ", j.id, ": ", j.error);

  std::string csv = "file,label,split,source,patient_id,lung_mask,lesion_mask,shortcut\n";
  for (const Job& j : jobs) {
    csv += image_rel(j) + "," + j.cls + "," + kSplits[j.split] + "," + (j.shortcut ? "synth-marker" : "synth") +
           "," + j.id + "," + mask_rel("lung", j) + "," + mask_rel("lesion", j) + "," + (j.shortcut ? "1" : "0") +
           "\n";
    stats.with_marker += j.shortcut ? 1 : 0;
  }
  write_file_atomic((root / "manifest.csv").string(), csv);
  stats.images = static_cast<int64_t>(jobs.size());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

}  // namespace cxr::data
