// `cxr report`: one self-contained HTML page about a training run, to open in any browser and to send.
//
// What it gathers (gather_report) and where from:
//   training curves      RUN_DIR/history.csv (required)
//   configuration        RUN_DIR/config.json (shown when present), RUN_DIR/state.json (when present)
//   checkpoint           RUN_DIR/best.safetensors (else last.safetensors, or --checkpoint): its metadata
//                        (epoch, seed, metrics, date), SHA-256 and size; the model summary table
//   test metrics         accuracy, macro-F1, confusion matrix, ROC curves, per-class and per-source tables:
//                        the checkpoint run over the chosen split (predict_dataset + evaluate), or read from
//                        `cxr eval --json` output (eval_json)
//   gallery              test images with their Grad-CAM overlay and guided Grad-CAM, MISTAKES FIRST,
//                        grouped by (true, predicted) class: computed here with explain/cam.h, or taken from
//                        a `cxr explain --out` folder (explanations.json and its overlays)
//   explanation metrics  deletion / insertion AUC, Average Drop / Increase in Confidence, pointing game and
//                        energy share on the lesion / lung masks, the shortcut finder's flagged images:
//                        computed here on an evenly spaced sample of the split (explain/xai_report.h), or
//                        read from `cxr xai-eval --json` output (metrics_json)
//   provenance           cxr version, report date, machine (CPU model, threads)
//
// What it writes (render_report): one HTML file with inline CSS, inline SVG charts (report/svg_plot.h) and
// inline PNG thumbnails as data: URIs; no network access, no framework. Its only script, a few lines, counts
// the images the browser decoded into #img-check (data-decoded / data-total), for the browser test and for
// anyone wondering whether the page is complete. Every string from data is escaped (report/html.h).
// The file is written atomically (core/atomic_file.h).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/version.h"
#include "explain/cam.h"
#include "explain/xai_report.h"
#include "io/checkpoint.h"
#include "models/summary.h"
#include "train/history.h"
#include "train/metrics.h"

namespace cxr::report {

inline constexpr const char* kCxrVersion = cxr::kVersion;  // core/version.h

struct ReportOptions {
  std::string run_dir;             // a `cxr train --out` folder
  std::string data;                // folder or manifest; empty: the run's config.json "data"
  std::string split = "auto";      // test | val | train | all | auto (test, else val, else all)
  std::string checkpoint;          // empty: RUN_DIR/best.safetensors, else RUN_DIR/last.safetensors
  std::string eval_json;           // optional `cxr eval --json` output, instead of evaluating here
  std::string explanations_dir;    // optional `cxr explain --out` folder, instead of explaining here
  std::string metrics_json;        // optional `cxr xai-eval --json` output, instead of computing here
  std::vector<std::string> compare_metrics_json;  // more xai-eval outputs (other methods or layers) for the
                                                   // comparison table beside the main metrics
  int samples = 12;                // gallery images
  int xai_images = 48;             // images for the explanation metrics computed here (0: skip them)
  bool faithfulness = true;        // deletion / insertion / AD / IC in those metrics (the slow part)
  int flagged_thumbnails = 12;     // at most this many flagged images drawn
  CamMethod method = CamMethod::GradCAM;  // for the gallery and the metrics computed here
  std::string layer;               // their target layer(s) (explain/cam.h names); empty: the last conv's ReLU
  int batch = 16;
  int thumb = 176;                 // thumbnail side in pixels
  bool progress = false;           // progress bars on stdout
  std::string title;               // default "Training report: <run folder name>"
  // Called with the model as soon as the checkpoint loads, before the long evaluation: the CLI checks there
  // what only the model can answer (is --layer one of its layers?), so a mistake costs seconds, not minutes.
  std::function<void(Model&)> check_model;
};

struct GalleryItem {
  std::string path;
  int label = -1, predicted = -1;  // class indices (-1: unknown)
  float probability = 0.0f;        // of the predicted class
  std::string source;              // the manifest's source column, if any
  std::string original_uri, overlay_uri, guided_uri;  // data: URIs ("" when not available)
  bool degenerate = false;         // a flat map (drawn grey)
  std::string note;                // e.g. why an image is missing
  bool mistake() const { return label >= 0 && predicted >= 0 && label != predicted; }
};

struct FlaggedItem {
  std::string path, label, target, source;
  double suspect = NAN, border = NAN, outside_lung = NAN;
  std::string original_uri, overlay_uri;
};

struct ReportData {
  std::string title, run_dir, data, split, generated, machine_cpu;
  int threads = 0, cores = 0;
  std::vector<std::string> notes;  // things left out and why, shown on the page

  nlohmann::json config;           // config.json (null when absent)
  nlohmann::json state;            // state.json (null when absent)
  std::vector<EpochRecord> history;

  std::string checkpoint, checkpoint_sha256;
  uint64_t checkpoint_bytes = 0;
  io::CheckpointMeta meta;
  std::vector<std::string> classes;
  ModelSummary summary;
  bool has_summary = false;

  std::string dataset_summary;
  EvalReport eval;
  std::string eval_source;         // "computed" or the JSON's path

  std::vector<GalleryItem> gallery;  // in display order: mistakes first
  std::string gallery_source, gallery_method, gallery_layer;

  std::optional<XaiReport> xai;    // computed here, or read from --metrics (xai_report_from_json)
  std::string xai_source;
  std::vector<XaiReport> xai_compare;  // the main metrics first, then compare_metrics_json's (when given)
  std::vector<FlaggedItem> flagged;

  // Headline numbers (NaN / -1 when unknown).
  double pointing_game() const;    // lesion mask, all images
  int64_t flagged_count() const;
};

// A localisation summary of a report (kind "lesion" | "lung", group "all" or a class name); nullptr when no
// image had that mask.
const LocalizationSummary* localization_of(const XaiReport& xai, const std::string& kind, const std::string& group);
// The pointing game on the lesion masks over all images (NaN when none was scored).
double lesion_pointing_game(const XaiReport& xai);

ReportData gather_report(const ReportOptions& options);
std::string render_report(const ReportData& data);
// gather + render + atomic write to `out`; returns what was gathered (for a summary line).
ReportData write_report(const ReportOptions& options, const std::string& out);

// ---- building blocks (public for tests) ------------------------------------------------------------------

// Which predictions the gallery shows, in display order: mistakes first (grouped by true class, then
// predicted class, most confident first), then correct ones, taken round-robin over the true classes in
// dataset order and grouped by class; at most n. labels / predicted / confidence are parallel arrays.
std::vector<size_t> pick_gallery(const std::vector<int>& labels, const std::vector<int>& predicted,
                                 const std::vector<float>& confidence, int n);
// The inverse of cxr::to_json(EvalReport) (train/metrics.h), for `cxr eval --json` files.
EvalReport eval_from_json(const nlohmann::json& j);
// "AMD EPYC 7B13" from /proc/cpuinfo, or "unknown CPU".
std::string cpu_model();
// A thumbnail: any image [C, H, W] scaled so its longer side is `side` (never enlarged), as a PNG data: URI.
std::string thumbnail_uri(const Tensor& chw, int side);

}  // namespace cxr::report
