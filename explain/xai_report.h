// How far to trust a model's explanations on a dataset: one call that runs every metric of explain/metrics.h
// and gathers per-image rows and aggregates (`cxr xai-eval`, `cxr explain --metrics`, the HTML report).
//
// Per image: load and preprocess as for inference (data/loader.h), explain the target class (the predicted
// class, or the true one with target = "true") with the explain/cam.h method, upsample the map to the input
// (S x S, bilinear), then
//   faithfulness   deletion / insertion AUC and the image's share of Average Drop / Increase in Confidence
//                  (explain/faithfulness.h), through the model's own softmax;
//   localisation   pointing game and energy share on the lesion mask and on the lung mask, when the image has
//                  them (manifest columns, or a --masks folder; explain/localization.h), at S x S;
//   shortcut       border / outside-lung shares and the flag (explain/shortcut.h), with the lung mask when
//                  known.
// Then the aggregates: faithfulness means, AD and IC; pointing-game hit rate and mean energy share per mask
// kind, overall and per class (the image's TRUE class; its target class when the label is unknown); the
// images ranked by shortcut suspicion (on `cxr synth` data, whose manifest marks marker images with source
// "synth-marker", also the finder's hits and false alarms); and, when asked, the cascading-randomisation
// sanity check on the first few images (explain/sanity.h; the model's weights are restored afterwards).
// Degenerate maps (explain/maps.h: nothing to rank) are counted and left out of the faithfulness,
// localisation and shortcut figures; images that fail to load are counted and listed with their error.
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/tensor.h"
#include "data/dataset.h"
#include "dist/comm.h"
#include "explain/cam.h"
#include "explain/faithfulness.h"
#include "explain/localization.h"
#include "explain/sanity.h"
#include "explain/shortcut.h"
#include "image/transform.h"
#include "models/model.h"

namespace cxr {

struct XaiOptions {
  ExplainRequest request;           // method, layers, fuse, scorecam_batch (its `classes` is ignored)
  std::string target = "pred";      // "pred": the predicted class; "true": the image's label
  image::Normalisation normalisation;  // the model's input normalisation (io::LoadedModel::norm)
  int64_t limit = 0;                // only `limit` images, evenly spaced (see evaluation_subset; 0: all)
  int batch = 8;                    // images explained per forward
  FaithfulnessOptions faithfulness;
  bool with_faithfulness = true;     // the costly part: 2 * steps + 2 forwards per image
  std::string masks_dir;             // optional mask folder (see resolve_mask_folders)
  std::string mask_kind = "lesion";  // what a plain masks folder holds: "lesion" | "lung"
  ShortcutOptions shortcut;
  int sanity_images = 0;  // > 0: run the sanity check on that many images
  SanityOptions sanity;
  bool progress = false;  // a progress bar on stdout
};

struct MaskScore {
  bool available = false;   // a mask was found for the image
  PointingResult pointing;  // .scored false for an empty mask (e.g. NORMAL's lesion mask)
  double energy = 0.0;      // NaN when undefined
};

struct XaiImageRow {
  int64_t index = -1;  // into the dataset's samples
  std::string path;
  std::string source;  // the manifest's source column ("synth-marker": `cxr synth` burned a marker in)
  int label = -1;      // true class (-1: unknown)
  int predicted = -1;
  int target = -1;           // the class explained
  float probability = 0.0f;  // of the target class
  bool degenerate = false;
  std::string degenerate_reason;
  std::string error;  // non-empty: the image could not be evaluated (nothing else is set)
  std::optional<FaithfulnessRow> faithfulness;
  MaskScore lesion, lung;
  ShortcutScore shortcut;
};

struct LocalizationSummary {
  int64_t scored = 0, hits = 0;  // pointing game
  int64_t energy_count = 0;
  double pointing = NAN;  // hits / scored
  double energy = NAN;    // mean energy share
};

struct XaiReport {
  std::string model, target;
  CamMethod method = CamMethod::GradCAM;
  // The target layers: their names (LayerInfo::name, "features.32"), what resolve_target_layers takes back,
  // and the display string ("features.32 (relu4_3) + features.22 (relu4_1)"), for people; the display
  // string is never parsed back. Guided backpropagation explains the input: no layers, layer "input".
  // A file written before the names were recorded reads back with no layers and only the display string
  // (`cxr report` then draws its images at its own --layer, and says so on the page).
  std::vector<std::string> layers;
  std::string layer;
  std::vector<std::string> class_names;
  FaithfulnessOptions faithfulness_options;
  int shortcut_band = 0;  // pixels at the input size
  int64_t input_size = 0;
  std::vector<XaiImageRow> rows;
  FaithfulnessSummary faithfulness;  // over non-degenerate rows with faithfulness
  // "all" and each class name -> summary, for "lesion" and "lung"
  std::map<std::string, std::map<std::string, LocalizationSummary>> localization;
  std::vector<size_t> shortcut_ranking;  // indices into rows, most suspect first (non-degenerate rows only)
  int64_t flagged = 0, degenerate = 0, failed = 0, mask_ambiguous = 0;
  // When sources say which images carry a synthetic marker (any source starting with "synth"): how many of
  // them the finder flagged, and how many other images it flagged (a check of the finder itself).
  bool markers_known = false;
  int64_t marker_images = 0, marker_flagged = 0, other_flagged = 0;
  std::optional<SanityResult> sanity;
  double seconds = 0.0;
};

// Under mpirun (`comm` of several ranks): each rank explains whole batches of one process's batching
// (dist::share_batches), rank 0 gathers the rows, makes the report and runs the sanity check on the first
// images of its share; it returns what one process returns, byte for byte as JSON (but for `seconds`)
// whenever rank 0's share holds the sanity check's images. The other ranks return their own rows only,
// unaggregated (their `failed` counts only those: sum it over the ranks).
XaiReport evaluate_explanations(Model& model, const data::Dataset& dataset, const XaiOptions& options,
                                dist::Comm* comm = nullptr);

// The metrics of explanations a caller already has (e.g. `cxr explain --metrics`): images [N, C, S, S]
// preprocessed, one Explanation per image, masks per image ([S, S] binary from load_mask / prepare_mask, or
// undefined Tensors; the vectors may be empty). Rows have index -1 and no path; the caller fills them in.
std::vector<XaiImageRow> evaluate_batch(Model& model, const Tensor& images, const std::vector<Explanation>& ex,
                                        const std::vector<Tensor>& lesion_masks, const std::vector<Tensor>& lung_masks,
                                        const XaiOptions& options);
// Data parallel: rank 0 gets every rank's rows in rank order (through their JSON, which keeps every number
// exactly); the other ranks an empty vector. One rank: `mine` as it is.
std::vector<XaiImageRow> gather_rows(dist::Comm& comm, std::vector<XaiImageRow> mine,
                                     const std::vector<std::string>& class_names, const XaiOptions& options);
// Aggregates of rows (the report's summary fields; rows are moved in).
XaiReport make_report(std::vector<XaiImageRow> rows, const std::vector<std::string>& class_names,
                      const XaiOptions& options);

// The dataset indices a limit picks: all when limit <= 0 or >= size, else floor(i * size / limit) for
// i < limit, evenly spaced, because datasets are usually sorted by class and the first images would all be
// of one class.
std::vector<int64_t> evaluation_subset(int64_t size, int64_t limit);

// Mask folders for a --masks DIR: DIR/lesion and DIR/lung when either exists (the layout `cxr synth` writes
// under OUT/masks), else DIR itself as `kind`. Keys "lesion" / "lung".
std::map<std::string, MaskFolder> resolve_mask_folders(const std::string& dir, const std::string& kind);

nlohmann::json to_json(const XaiReport& r);
// Its inverse, for the files `cxr report` reads back: to_json(xai_report_from_json(to_json(r))) equals
// to_json(r), where to_json's nulls (numbers that are not finite) read back as NaN. What to_json derives is
// not read back ("pointing_tolerance" from input_size, the "flagged" list from the ranking and the rows),
// nor the keys the commands add ("checkpoint", "data", ...). Throws cxr::Error naming what is missing or
// wrong and where ("'rows[3].label' is a number (2), expected a string"); the caller adds the file's name.
XaiReport xai_report_from_json(const nlohmann::json& j);
// A readable summary: faithfulness, localisation table per class, flagged images (up to `top`), sanity.
std::string format_report(const XaiReport& r, int top = 10);

}  // namespace cxr
