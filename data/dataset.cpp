#include "data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strings.h"

namespace fs = std::filesystem;

namespace cxr::data {

// ---------------------------------------------------------------------------------------------------------
// Small string helpers

// "valid" and "validation" are spelled "val" everywhere inside cxr.
static std::string normalise_split(const std::string& s) {
  std::string l = lower(trim(s));
  if (l == "valid" || l == "validation") return "val";
  return l;
}

static bool is_split_name(const std::string& s) {
  std::string n = normalise_split(s);
  return n == "train" || n == "val" || n == "test";
}

bool is_image_filename(const std::string& name) {
  std::string ext = lower(fs::path(name).extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Segmentation masks that sit beside the images ("xyz_mask.png") are not training images.
static bool is_mask_filename(const std::string& name) {
  std::string stem = lower(fs::path(name).stem().string());
  auto ends = [&](const char* suf) {
    std::string s(suf);
    return stem.size() > s.size() && stem.compare(stem.size() - s.size(), s.size(), s) == 0;
  };
  return ends("_mask") || ends("-mask");
}

// Kermany's pediatric set names files by child: "person12_bacteria_45.jpeg" (pneumonia) and
// "IM-0115-0001.jpeg" / "NORMAL2-IM-1427-0001.jpeg" (normal, the last number counts the child's images).
static std::string patient_from_filename(const std::string& filename) {
  std::string stem = fs::path(filename).stem().string();
  if (stem.starts_with("person")) {
    size_t i = 6;
    while (i < stem.size() && std::isdigit(static_cast<unsigned char>(stem[i]))) ++i;
    if (i > 6 && i < stem.size() && stem[i] == '_') return stem.substr(0, i);
  }
  size_t im = stem.starts_with("IM-") ? 0 : (stem.starts_with("NORMAL2-IM-") ? 8 : std::string::npos);
  if (im != std::string::npos) {
    size_t dash = stem.rfind('-');
    if (dash > im + 3) return stem.substr(0, dash);
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------
// Dataset

int Dataset::class_index(const std::string& name) const {
  for (size_t i = 0; i < class_names.size(); ++i)
    if (class_names[i] == name) return static_cast<int>(i);
  return -1;
}

std::vector<int64_t> Dataset::class_counts() const {
  std::vector<int64_t> counts(class_names.size(), 0);
  for (const Sample& s : samples)
    if (s.label >= 0 && s.label < num_classes()) ++counts[s.label];
  return counts;
}

std::vector<float> Dataset::class_weights() const {
  std::vector<int64_t> counts = class_counts();
  std::vector<float> w(counts.size(), 0.0f);
  for (size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0)
      w[c] = static_cast<float>(static_cast<double>(size()) / (static_cast<double>(counts.size()) * counts[c]));
  return w;
}

std::string Dataset::summary() const {
  std::ostringstream os;
  os << origin << ": " << size() << " images, " << num_classes() << " classes:";
  std::vector<int64_t> counts = class_counts();
  for (size_t c = 0; c < counts.size(); ++c) {
    double pct = size() ? 100.0 * counts[c] / size() : 0.0;
    os << (c ? ", " : " ") << class_names[c] << " " << counts[c] << " (" << std::fixed << std::setprecision(1)
       << pct << "%)";
  }
  std::map<std::string, int64_t> splits;
  for (const Sample& s : samples) ++splits[s.split.empty() ? "(none)" : s.split];
  if (splits.size() > 1 || (splits.size() == 1 && !splits.count("(none)"))) {
    os << "; splits:";
    for (const auto& [name, n] : splits) os << " " << name << " " << n;
  }
  return os.str();
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  Dataset out;
  out.class_names = class_names;
  out.origin = origin;
  out.samples.reserve(indices.size());
  for (int64_t i : indices) {
    CXR_CHECK(i >= 0 && i < size(), origin, ": subset index ", i, " out of range [0, ", size(), ")");
    out.samples.push_back(samples[i]);
  }
  return out;
}

// With given class names, labels are looked up; otherwise the sorted set of found labels is the class list.
static std::vector<std::string> resolve_classes(const std::vector<std::string>& found,
                                                const DatasetOptions& opt) {
  if (!opt.class_names.empty()) {
    std::set<std::string> seen;
    for (const auto& c : opt.class_names) CXR_CHECK(seen.insert(c).second, "class '", c, "' given twice");
    return opt.class_names;
  }
  std::vector<std::string> names(found.begin(), found.end());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------------------------
// Folders

namespace {

// Recursive image listing that follows links but visits each real folder once (device + inode).
struct FolderWalker {
  std::set<std::pair<dev_t, ino_t>> visited;

  bool first_visit(const fs::path& dir) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return false;
    return visited.insert({st.st_dev, st.st_ino}).second;
  }

  void walk(const fs::path& dir, std::vector<std::string>& out) {
    if (!first_visit(dir)) return;
    std::error_code ec;
    fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    CXR_CHECK(!ec, dir.string(), ": cannot list folder: ", ec.message());
    for (const fs::directory_entry& e : it) {
      std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;  // hidden files, .DS_Store, .ipynb_checkpoints
      std::error_code ec2;
      if (e.is_directory(ec2)) {  // follows links
        if (lower(name) == "masks") continue;
        walk(e.path(), out);
      } else if (e.is_regular_file(ec2) && is_image_filename(name) && !is_mask_filename(name)) {
        out.push_back(e.path().string());
      }
    }
  }
};

std::vector<fs::path> visible_subfolders(const fs::path& dir) {
  std::vector<fs::path> subs;
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  CXR_CHECK(!ec, dir.string(), ": cannot list folder: ", ec.message());
  for (const fs::directory_entry& e : it) {
    std::string name = e.path().filename().string();
    std::error_code ec2;
    if (!name.empty() && name[0] != '.' && e.is_directory(ec2)) subs.push_back(e.path());
  }
  std::sort(subs.begin(), subs.end());
  return subs;
}

// The class folders of DIR (or of DIR/<SPLIT>/ in a split layout) with their image files, sorted.
struct ClassFolder {
  std::string split, name;
  fs::path path;
  std::vector<std::string> files;
};

std::vector<ClassFolder> list_class_folders(const fs::path& dir) {
  std::vector<ClassFolder> out;
  std::vector<fs::path> subs = visible_subfolders(dir);
  bool split_layout = !subs.empty() && std::all_of(subs.begin(), subs.end(), [](const fs::path& p) {
    return is_split_name(p.filename().string());
  });
  if (split_layout) {
    for (const fs::path& s : subs)
      for (const fs::path& c : visible_subfolders(s))
        out.push_back({normalise_split(s.filename().string()), c.filename().string(), c, {}});
  } else {
    std::string own = fs::path(dir).lexically_normal().filename().string();
    if (own.empty()) own = fs::path(dir).lexically_normal().parent_path().filename().string();  // "dir/"
    std::string split = is_split_name(own) ? normalise_split(own) : "";
    for (const fs::path& c : subs) out.push_back({split, c.filename().string(), c, {}});
  }
  for (ClassFolder& c : out) {
    FolderWalker walker;
    walker.walk(c.path, c.files);
    std::sort(c.files.begin(), c.files.end());
  }
  return out;
}

bool any_images(const std::vector<ClassFolder>& folders) {
  return std::any_of(folders.begin(), folders.end(), [](const ClassFolder& c) { return !c.files.empty(); });
}

}  // namespace

Dataset open_folder(const std::string& dir_str, const DatasetOptions& opt) {
  std::error_code ec;
  CXR_CHECK(fs::is_directory(fs::path(dir_str), ec), dir_str, ": not a folder");
  std::vector<ClassFolder> class_dirs = list_class_folders(dir_str);
  CXR_CHECK(!class_dirs.empty(), dir_str, ": no class folders (expected ", dir_str, "/<CLASS>/*.png)");
  // With given class names, a folder holding images must be one of them.
  std::vector<std::string> found;
  for (const ClassFolder& c : class_dirs) found.push_back(c.name);
  Dataset ds;
  ds.origin = dir_str;
  ds.class_names = resolve_classes(found, opt);
  for (size_t i = 0; i < class_dirs.size(); ++i) {
    int label = ds.class_index(class_dirs[i].name);
    if (class_dirs[i].files.empty()) continue;
    CXR_CHECK(label >= 0, class_dirs[i].path.string(), ": folder '", class_dirs[i].name,
              "' is not one of the classes [", join(ds.class_names), "]");
    for (std::string& f : class_dirs[i].files) {
      Sample s;
      s.path = std::move(f);
      s.label = label;
      s.split = class_dirs[i].split;
      s.patient_id = patient_from_filename(s.path);
      ds.samples.push_back(std::move(s));
    }
  }
  CXR_CHECK(!ds.samples.empty(), dir_str, ": no images (.png/.jpg/.jpeg) in the class folders [",
            join(found), "]");
  return ds;
}

// ---------------------------------------------------------------------------------------------------------
// Manifests

Dataset open_manifest(const std::string& csv_path, const DatasetOptions& opt) {
  std::error_code ec;
  const auto size = fs::file_size(csv_path, ec);
  CXR_CHECK(ec || size <= kMaxManifestBytes, csv_path, ": manifest is ", size, " bytes, more than the limit of ",
            kMaxManifestBytes, " bytes");
  return parse_manifest(read_file(csv_path), csv_path, opt);
}

Dataset parse_manifest(const std::string& text, const std::string& csv_path, const DatasetOptions& opt) {
  CXR_CHECK(text.size() <= kMaxManifestBytes, csv_path, ": manifest is ", text.size(),
            " bytes, more than the limit of ", kMaxManifestBytes, " bytes");
  std::vector<int> lines;
  auto rows = parse_csv(text, csv_path, &lines);
  CXR_CHECK(!rows.empty(), csv_path, ": empty manifest (expected a header row with file,label)");
  const std::vector<std::string>& header = rows[0];
  auto column = [&](const char* name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (lower(trim(header[i])) == name) return static_cast<int>(i);
    return -1;
  };
  int c_file = column("file"), c_label = column("label"), c_split = column("split"), c_source = column("source"),
      c_patient = column("patient_id"), c_lung = column("lung_mask"), c_lesion = column("lesion_mask");
  CXR_CHECK(c_file >= 0 && c_label >= 0, csv_path, ":", lines[0], ": the header needs columns 'file' and 'label'",
            " (it has: ", join(header), ")");

  fs::path base = fs::path(csv_path).parent_path();
  auto resolve = [&](const std::string& f) {
    fs::path p(f);
    return (p.is_absolute() || base.empty() ? p : base / p).lexically_normal().string();
  };
  auto get = [](const std::vector<std::string>& row, int c) { return c >= 0 ? trim(row[c]) : std::string(); };

  std::vector<std::string> found;
  for (size_t r = 1; r < rows.size(); ++r) {
    CXR_CHECK(rows[r].size() == header.size(), csv_path, ":", lines[r], ": ", rows[r].size(),
              " fields, but the header has ", header.size(), " (", join(header, ","), ")");
    std::string label = get(rows[r], c_label);
    CXR_CHECK(!label.empty(), csv_path, ":", lines[r], ": empty label");
    CXR_CHECK(!get(rows[r], c_file).empty(), csv_path, ":", lines[r], ": empty file name");
    found.push_back(label);
  }

  Dataset ds;
  ds.origin = csv_path;
  ds.class_names = resolve_classes(found, opt);
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    Sample s;
    s.path = resolve(get(row, c_file));
    s.label = ds.class_index(get(row, c_label));
    CXR_CHECK(s.label >= 0, csv_path, ":", lines[r], ": label '", get(row, c_label), "' of ", get(row, c_file),
              " is not one of the classes [", join(ds.class_names), "]");
    s.split = normalise_split(get(row, c_split));
    s.source = get(row, c_source);
    s.patient_id = get(row, c_patient);
    if (!get(row, c_lung).empty()) s.lung_mask = resolve(get(row, c_lung));
    if (!get(row, c_lesion).empty()) s.lesion_mask = resolve(get(row, c_lesion));
    ds.samples.push_back(std::move(s));
  }
  CXR_CHECK(!ds.samples.empty(), csv_path, ": the manifest lists no images");
  return ds;
}

Dataset open_dataset(const std::string& path, const DatasetOptions& opt) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path manifest = fs::path(path) / "manifest.csv";
    if (fs::is_regular_file(manifest, ec)) return open_manifest(manifest.string(), opt);
    return open_folder(path, opt);
  }
  CXR_CHECK(fs::exists(path, ec), path, ": no such file or folder");
  CXR_CHECK(lower(fs::path(path).extension().string()) == ".csv", path,
            ": not a dataset (expected a folder of class folders or a .csv manifest)");
  return open_manifest(path, opt);
}

// ---------------------------------------------------------------------------------------------------------
// Splits

bool has_splits(const Dataset& ds) {
  return !ds.samples.empty() &&
         std::all_of(ds.samples.begin(), ds.samples.end(), [](const Sample& s) { return !s.split.empty(); });
}

std::string split_argument(const std::string& s) {
  const std::string n = normalise_split(s);
  return is_split_name(n) || n == "all" || n == "auto" ? n : "";
}

std::string resolve_split(const Dataset& ds, const std::string& split) {
  if (split != "auto") return split;
  if (has_splits(ds))
    for (const char* s : {"test", "val"})
      for (const auto& smp : ds.samples)
        if (smp.split == s) return s;
  return "all";
}

Dataset select_split(const Dataset& ds, const std::string& name) {
  std::string want = normalise_split(name);
  std::vector<int64_t> idx;
  std::set<std::string> have;
  for (int64_t i = 0; i < ds.size(); ++i) {
    have.insert(ds.samples[i].split.empty() ? "(none)" : ds.samples[i].split);
    if (ds.samples[i].split == want) idx.push_back(i);
  }
  CXR_CHECK(!idx.empty(), ds.origin, ": no samples in split '", name, "' (splits present: ",
            join(std::vector<std::string>(have.begin(), have.end())), ")");
  Dataset out = ds.subset(idx);
  out.origin = ds.origin + " [" + want + "]";
  return out;
}

Dataset exclude_sources(const Dataset& ds, const std::vector<std::string>& sources, bool must_match) {
  if (sources.empty()) return ds;
  const std::set<std::string> drop(sources.begin(), sources.end());
  std::set<std::string> have;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const std::string& src = ds.samples[i].source;
    have.insert(src.empty() ? "(none)" : src);
    if (!drop.count(src)) keep.push_back(i);
  }
  if (must_match)
    for (const auto& name : drop)
      CXR_CHECK(have.count(name), ds.origin, ": no sample has source '", name, "' (sources present: ",
                join(std::vector<std::string>(have.begin(), have.end())), ")");
  Dataset out = ds.subset(keep);
  out.origin = ds.origin + " [without " + join(sources) + "]";
  return out;
}

PatientSplit split_by_patient(const Dataset& ds, double val_fraction, uint64_t seed) {
  CXR_CHECK(val_fraction >= 0.0 && val_fraction <= 1.0, ds.origin, ": validation fraction ", val_fraction,
            " is not in [0, 1]");
  // Patient groups, keyed so the order is independent of the sample order. A sample without a patient id is
  // its own group.
  std::map<std::string, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const Sample& s = ds.samples[i];
    groups[s.patient_id.empty() ? "\x01" + s.path : "\x02" + s.patient_id].push_back(i);
  }
  // Each group counts under its most common label (ties: the lower index).
  int k = std::max(1, ds.num_classes());
  std::vector<std::vector<const std::vector<int64_t>*>> by_label(k);
  std::vector<int64_t> label_total(k, 0);
  for (const auto& [key, members] : groups) {
    std::vector<int> count(k, 0);
    for (int64_t i : members) ++count[std::clamp(ds.samples[i].label, 0, k - 1)];
    int major = static_cast<int>(std::max_element(count.begin(), count.end()) - count.begin());
    by_label[major].push_back(&members);
    label_total[major] += static_cast<int64_t>(members.size());
  }
  // Per label: shuffle the groups, then move a group to val whenever that brings val closer to its target.
  Rng rng(seed);
  std::vector<char> in_val(ds.size(), 0);
  for (int c = 0; c < k; ++c) {
    auto& gs = by_label[c];
    rng.shuffle(gs);
    double target = val_fraction * static_cast<double>(label_total[c]);
    double taken = 0;
    for (const auto* g : gs) {
      double n = static_cast<double>(g->size());
      if (std::abs(taken + n - target) < std::abs(taken - target)) {
        taken += n;
        for (int64_t i : *g) in_val[i] = 1;
      }
    }
  }
  std::vector<int64_t> tr, va;
  for (int64_t i = 0; i < ds.size(); ++i) (in_val[i] ? va : tr).push_back(i);
  PatientSplit out{ds.subset(tr), ds.subset(va)};
  out.train.origin = ds.origin + " [train by patient]";
  out.val.origin = ds.origin + " [val by patient]";
  return out;
}

std::vector<NamedImage> expand_image_inputs(const std::vector<std::string>& inputs, bool missing_ok) {
  std::vector<NamedImage> items;
  for (const std::string& in : inputs) {
    std::error_code ec;
    const bool dir = fs::is_directory(in, ec);
    if (!dir && lower(fs::path(in).extension().string()) != ".csv") {
      CXR_CHECK(missing_ok || fs::exists(in, ec), in, ": no such file or folder");
      items.push_back({in, "", "", "", ""});
      continue;
    }
    // A manifest (given, or a folder's manifest.csv) or class folders holding images: a dataset, with labels.
    // Otherwise a folder simply holds images, searched recursively.
    if (!dir || fs::is_regular_file(fs::path(in) / "manifest.csv", ec) || any_images(list_class_folders(in))) {
      const Dataset ds = open_dataset(in);
      for (const auto& s : ds.samples)
        items.push_back({s.path, ds.class_names[static_cast<size_t>(s.label)], s.source, s.lesion_mask, s.lung_mask});
      continue;
    }
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (it->is_regular_file(ec) && name[0] != '.' && is_image_filename(name)) files.push_back(it->path().string());
    }
    CXR_CHECK(!ec, in, ": cannot list folder: ", ec.message());
    CXR_CHECK(!files.empty(), in, ": no images (.png/.jpg/.jpeg) found");
    std::sort(files.begin(), files.end());
    for (auto& f : files) items.push_back({f, "", "", "", ""});
  }
  return items;
}

}  // namespace cxr::data
