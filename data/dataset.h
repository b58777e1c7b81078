// Datasets: which image files make up a training set, with their labels, splits and patients.
//
// A Dataset is only a list of samples and the class names; nothing is decoded here (data/loader.h does that).
// It comes from one of two places:
//
//  * Folders, one per class (Keras flow_from_directory layout), searched recursively:
//        DIR/<CLASS>/**/*.{png,jpg,jpeg}          (extensions case-insensitive)
//    - If every sub-folder of DIR is named train / val / test (also "valid", "validation"), DIR is a split
//      layout (DIR/<SPLIT>/<CLASS>/...) and each sample's split is its folder's; the Kaggle "Chest X-ray
//      (Covid-19 & Pneumonia)" Data/ folder and the pediatric chest_xray/ folder are such layouts.
//    - If DIR itself is named train / val / test (chest_xray/train), its samples get that split.
//    - Skipped: hidden files and folders (".name"), files with other extensions, any folder named "masks"
//      (the COVID-19 Radiography Database keeps segmentation masks in COVID/masks/ beside COVID/images/),
//      and files whose name ends in "_mask" / "-mask". Symbolic links are followed, each real folder is
//      visited once, so a link loop cannot recurse forever.
//    - Files are listed in sorted path order, so a listing does not depend on the filesystem.
//    - Folder datasets have no patient ids, except that Kermany file names ("person12_bacteria_45.jpeg")
//      give "person12": one child's images must not straddle a split. Otherwise each file is its own patient.
//
//  * A CSV manifest with a header row: columns `file` and `label` are required; `split`, `source`,
//    `patient_id`, `lung_mask`, `lesion_mask` are read when present; other columns are ignored. Paths are
//    relative to the manifest's folder (absolute paths are kept). Fields follow RFC 4180 (quotes, doubled
//    quotes, commas and newlines inside quotes). This is the format of /work/shared/data/cxr-real and of
//    `cxr synth`. open_dataset(DIR) reads DIR/manifest.csv when there is one, since it carries patient ids.
//
// Class names are sorted alphabetically (Keras's order) unless given; with given names, a label outside the
// list is an error naming the manifest row or the folder.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/csv.h"

namespace cxr::data {

struct Sample {
  std::string path;         // the image file (as found, or resolved against the manifest's folder)
  int label = -1;           // index into Dataset::class_names
  std::string split;        // "train", "val", "test", or "" when unknown
  std::string source;       // where the image came from (manifest column), or ""
  std::string patient_id;   // "" when unknown: the sample is then its own patient
  std::string lung_mask;    // mask image paths, "" when absent
  std::string lesion_mask;
};

struct Dataset {
  std::vector<Sample> samples;
  std::vector<std::string> class_names;
  std::string origin;  // the folder or manifest it came from (for messages)

  int64_t size() const { return static_cast<int64_t>(samples.size()); }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  int class_index(const std::string& name) const;  // -1 when not a class

  std::vector<int64_t> class_counts() const;  // samples per class
  // sklearn's class_weight='balanced': n_samples / (n_classes * count[c]); 0 for a class with no samples.
  std::vector<float> class_weights() const;
  // e.g. "data/train: 1857 images, 3 classes: COVID19 631 (34.0%), NORMAL 628 (33.8%), PNEUMONIA 598 (32.2%)"
  std::string summary() const;

  Dataset subset(const std::vector<int64_t>& indices) const;  // same classes, chosen samples in that order
};

struct DatasetOptions {
  std::vector<std::string> class_names;  // empty: found, sorted alphabetically
};

Dataset open_folder(const std::string& dir, const DatasetOptions& opt = {});
Dataset open_manifest(const std::string& csv_path, const DatasetOptions& opt = {});
// A .csv file is a manifest; a folder holding manifest.csv is read through it; any other folder by layout.
Dataset open_dataset(const std::string& path, const DatasetOptions& opt = {});

// The samples whose split is `name` ("train", "val" or "test"; "valid"/"validation" mean "val").
// Throws if none has that split, naming the splits the dataset does have.
Dataset select_split(const Dataset& ds, const std::string& name);
bool has_splits(const Dataset& ds);  // true when every sample has a split
// The samples whose `source` (manifest column) is none of `sources`, in their order: a leave-source-out
// control (train without a hospital, then see how its images fare). With must_match, a name that is no
// sample's source is an error naming the sources there are (a typo must not leave everything in).
Dataset exclude_sources(const Dataset& ds, const std::vector<std::string>& sources, bool must_match = true);
// The --split argument of the evaluation commands, normalised: test | val | train | all | auto, in any case
// and with spaces trimmed ("valid" and "validation" mean val); "" when it is none of them.
std::string split_argument(const std::string& s);
// The split that evaluation commands (eval, xai-eval, report) read: `split` itself, or for "auto" the
// test split, else the val split, else "all" (the whole dataset).
std::string resolve_split(const Dataset& ds, const std::string& split);

// Splits a dataset that has no split of its own, by patient: all samples of one patient_id (across labels)
// land on the same side. Seeded. Approximately stratified: each patient group is counted under its most
// common label, groups of each label are shuffled and moved to `val` until that label's share of val is
// closest to val_fraction. With too few patients a side may be empty.
struct PatientSplit {
  Dataset train, val;
};
PatientSplit split_by_patient(const Dataset& ds, double val_fraction, uint64_t seed);

// The IMAGE | DIR | MANIFEST arguments of a command (`cxr predict`, `cxr explain`) as the image files they
// name, in order: a file as itself; a manifest or a class-folder layout as its samples, with their labels
// and manifest columns; any other folder as its image files, found recursively, in sorted order. A broken
// manifest or a folder without images is an error naming it; so is a missing file, unless missing_ok (the
// caller then reports it with the files it cannot read, and goes on with the others).
struct NamedImage {
  std::string path;
  std::string label;                           // true class name when a dataset says so, else ""
  std::string source, lesion_mask, lung_mask;  // manifest columns, when there are any
};
std::vector<NamedImage> expand_image_inputs(const std::vector<std::string>& inputs, bool missing_ok = false);

// Limits a manifest cannot talk its way past (each refusal names the file, the line and the limit):
inline constexpr size_t kMaxManifestBytes = size_t{256} << 20;  // the file, checked before reading it
// (rows and field length: data/csv.h)

// open_manifest from the file's bytes: `csv_path` is used for messages and to resolve relative paths.
Dataset parse_manifest(const std::string& text, const std::string& csv_path, const DatasetOptions& opt = {});

bool is_image_filename(const std::string& name);  // .png/.jpg/.jpeg, any case

}  // namespace cxr::data
