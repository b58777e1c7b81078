// gather_report: everything the page shows, read from the run folder and computed from its checkpoint.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/argmax.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/threading.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "explain/cam.h"
#include "explain/metrics.h"
#include "explain/overlay.h"
#include "explain/pipeline.h"
#include "explain/sha256.h"
#include "image/image.h"
#include "image/png.h"
#include "io/json_file.h"
#include "io/model_file.h"
#include "report/html.h"
#include "report/report.h"
#include "train/calibration.h"
#include "train/evaluate.h"

namespace fs = std::filesystem;

namespace cxr::report {

namespace {

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  CXR_CHECK(fs::exists(path), path, ": not found (", what, ")");
  try {
    return io::read_json_file(path);  // size and depth limits (io/json_file.h)
  } catch (const Error& e) {
    throw Error(str(e.what(), " (", what, ")"));
  }
}

double json_num(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return NAN;
  return j[key].get<double>();
}

// A count field: a whole number in [0, INT32_MAX], else 0 (get<int>() of 3e91 would be undefined behaviour).
static int json_count(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return 0;
  const int64_t v = j[key].get<int64_t>();
  return v >= 0 && v <= INT32_MAX ? static_cast<int>(v) : 0;
}

// A count the file must get right when it has it: absent is 0, anything but an integer in [0, 2^31) is an
// error naming the field (get<int>() of 1e73 would be undefined behaviour: fuzz_run_folder).
static int strict_count(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const nlohmann::json& v = j[key];
  CXR_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX, key,
            " is not a count: ", v.dump());
  return static_cast<int>(v.get<int64_t>());
}

std::string now_string() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

int class_of(const std::vector<std::string>& classes, const nlohmann::json& v) {
  if (!v.is_string()) return -1;
  const auto it = std::find(classes.begin(), classes.end(), v.get<std::string>());
  return it == classes.end() ? -1 : static_cast<int>(it - classes.begin());
}

// Explains `paths` with the model (class per image: `classes`, or the predicted one when empty) and calls
// draw(i, original, explanation) for each image that loaded; errors go to `failed(i, message)`.
template <typename Draw, typename Fail>
void explain_files(io::LoadedModel& lm, const std::vector<std::string>& paths, const std::vector<int>& classes,
                   const ReportOptions& o, bool guided, Draw draw, Fail failed) {
  ExplainPipelineOptions po;
  po.request.method = o.method;
  if (!o.layer.empty()) po.request.layers = {o.layer};
  po.request.with_guided = guided && po.request.method != CamMethod::Guided;
  po.request.class_names = lm.meta.classes;
  po.normalisation = lm.norm;
  po.batch = std::max(1, o.batch);
  std::vector<ImageToExplain> items(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    items[i].path = paths[i];
    if (!classes.empty()) items[i].target = classes[i];
  }
  explain_images(
      *lm.model, items, po,
      [&](ExplainedBatch& b) {
        for (const ExplainedImage& im : b.images) draw(im.index, im.original, im.explanations.front());
      },
      failed);
}

void compute_gallery(ReportData& d, io::LoadedModel& lm, const data::Dataset& ds, const DatasetPredictions& p,
                     const ReportOptions& o) {
  std::vector<int> labels, predicted;
  std::vector<float> conf;
  for (size_t i = 0; i < p.probs.size(); ++i) {
    const auto& row = p.probs[i];
    const int k = argmax(row);
    labels.push_back(p.targets[i]);
    predicted.push_back(k);
    conf.push_back(row[static_cast<size_t>(k)]);
  }
  std::vector<std::string> paths;
  for (size_t i : pick_gallery(labels, predicted, conf, o.samples)) {
    const data::Sample& s = ds.samples[static_cast<size_t>(p.indices[i])];
    GalleryItem g;
    g.path = s.path;
    g.label = labels[i];
    g.predicted = predicted[i];
    g.probability = conf[i];
    g.source = s.source;
    d.gallery.push_back(g);
    paths.push_back(s.path);
  }
  d.gallery_method = method_name(o.method);
  d.gallery_source = "computed with the checkpoint";
  if (o.method != CamMethod::Guided) {
    for (const auto& l : resolve_target_layers(*lm.model, o.layer.empty() ? std::vector<std::string>{}
                                                                          : std::vector<std::string>{o.layer}))
      d.gallery_layer += (d.gallery_layer.empty() ? "" : " + ") + display_name(l);
  }
  explain_files(
      lm, paths, {}, o, true,
      [&](size_t i, const Tensor& original, const Explanation& e) {
        GalleryItem& g = d.gallery[i];
        const Rendered r = render(e, original);
        g.original_uri = thumbnail_uri(original, o.thumb);
        g.overlay_uri = thumbnail_uri(r.overlay, o.thumb);
        if (r.guided.defined()) g.guided_uri = thumbnail_uri(r.guided, o.thumb);
        g.degenerate = e.degenerate;
      },
      [&](size_t i, const std::string& msg) { d.gallery[i].note = msg; });
}

// The gallery from a `cxr explain --out` folder: its explanations.json and the overlays it saved.
void gallery_from_explanations(ReportData& d, const std::string& dir, const ReportOptions& o) {
  const std::string manifest = (fs::path(dir) / "explanations.json").string();
  const nlohmann::json ej = read_json_file(manifest, "the manifest `cxr explain` writes");
  const nlohmann::json images = ej.value("images", nlohmann::json::array());
  std::vector<int> labels, predicted;
  std::vector<float> conf;
  for (const auto& im : images) {
    labels.push_back(class_of(d.classes, im.value("label", nlohmann::json())));
    predicted.push_back(class_of(d.classes, im.value("predicted", nlohmann::json())));
    float c = 0.0f;
    if (im.contains("probabilities") && im.contains("predicted") && im["predicted"].is_string())
      c = im["probabilities"].value(im["predicted"].get<std::string>(), 0.0f);
    conf.push_back(c);
  }
  d.gallery_method = ej.value("method", std::string("?"));
  d.gallery_source = manifest;
  for (const auto& l : ej.value("layers", nlohmann::json::array()))
    if (l.is_string()) d.gallery_layer += (d.gallery_layer.empty() ? "" : " + ") + l.get<std::string>();
  for (size_t i : pick_gallery(labels, predicted, conf, o.samples)) {
    const auto& im = images[i];
    GalleryItem g;
    g.path = im.value("file", std::string());
    g.label = labels[i];
    g.predicted = predicted[i];
    g.probability = conf[i];
    auto load_thumb = [&](const std::string& path) -> std::string {
      try {
        return thumbnail_uri(image::load_image(path).pixels, o.thumb);
      } catch (const std::exception& e) {
        g.note += (g.note.empty() ? "" : "; ") + std::string(e.what());
        return "";
      }
    };
    g.original_uri = load_thumb(g.path);
    const auto ex = im.value("explanations", nlohmann::json::array());
    if (!ex.empty()) {
      const auto files = ex[0].value("files", nlohmann::json::object());
      g.degenerate = ex[0].value("degenerate", false);
      if (files.contains("overlay")) g.overlay_uri = load_thumb((fs::path(dir) / files["overlay"].get<std::string>()).string());
      if (files.contains("guided")) g.guided_uri = load_thumb((fs::path(dir) / files["guided"].get<std::string>()).string());
    }
    d.gallery.push_back(g);
  }
}

void compute_xai(ReportData& d, io::LoadedModel& lm, const data::Dataset& ds, const ReportOptions& o) {
  XaiOptions xo;
  xo.request.method = o.method;
  if (!o.layer.empty()) xo.request.layers = {o.layer};
  xo.request.class_names = lm.meta.classes;
  xo.normalisation = lm.norm;
  xo.batch = std::max(1, std::min(o.batch, 8));
  xo.with_faithfulness = o.faithfulness;
  xo.progress = o.progress;
  xo.limit = o.xai_images;  // evenly spaced: datasets are listed class by class
  const int64_t n = static_cast<int64_t>(evaluation_subset(ds.size(), xo.limit).size());
  if (o.progress) std::printf("Explanation metrics on %lld images\n", static_cast<long long>(n));
  d.xai = evaluate_explanations(*lm.model, ds, xo);
  d.xai_source = "computed with the checkpoint on " + std::to_string(n) + " of " + std::to_string(ds.size()) +
                 " images (evenly spaced)";
}

// The shortcut finder's flagged images, most suspect first, and the first few drawn with the method and
// layers whose maps the metrics scored.
void flagged_thumbnails(ReportData& d, io::LoadedModel& lm, const data::Dataset& ds, const ReportOptions& o) {
  if (!d.xai) return;
  const XaiReport& x = *d.xai;
  std::map<std::string, std::string> source_of;
  for (const auto& s : ds.samples) source_of[s.path] = s.source;
  auto name = [&](int c) {
    return c >= 0 && static_cast<size_t>(c) < x.class_names.size() ? x.class_names[static_cast<size_t>(c)] : "";
  };
  for (size_t i : x.shortcut_ranking) {
    const XaiImageRow& row = x.rows[i];
    if (!row.shortcut.flagged) continue;
    FlaggedItem it;
    it.path = row.path;
    it.label = name(row.label);
    it.target = name(row.target);
    it.suspect = row.shortcut.suspect;
    it.border = row.shortcut.border;
    it.outside_lung = row.shortcut.outside_lung;
    if (auto s = source_of.find(it.path); s != source_of.end()) it.source = s->second;
    d.flagged.push_back(it);
  }
  const size_t n = std::min(d.flagged.size(), static_cast<size_t>(std::max(0, o.flagged_thumbnails)));
  // Draw the maps the metrics scored: their method and layers, by name (several joined with '+', as --layer).
  ReportOptions drawn = o;
  drawn.method = x.method;
  if (x.method != CamMethod::Guided) {
    if (!x.layers.empty())
      drawn.layer = join(x.layers, "+");
    else if (n > 0)  // a file from before the names were recorded: its display string is not parsed apart
      d.notes.push_back(d.xai_source + " records its target layers only as display text (written by an older cxr "
                        "xai-eval): its flagged images are drawn at " +
                        (o.layer.empty() ? std::string("the default layer") : "--layer " + o.layer) +
                        ", not necessarily at " + x.layer + " (run xai-eval again to record them)");
  }
  std::vector<std::string> paths;
  std::vector<int> targets;
  for (size_t i = 0; i < n; ++i) {
    paths.push_back(d.flagged[i].path);
    targets.push_back(std::max(0, class_of(d.classes, d.flagged[i].target)));
  }
  explain_files(
      lm, paths, targets, drawn, false,
      [&](size_t i, const Tensor& original, const Explanation& e) {
        d.flagged[i].original_uri = thumbnail_uri(original, o.thumb);
        d.flagged[i].overlay_uri = thumbnail_uri(render(e, original).overlay, o.thumb);
      },
      [&](size_t, const std::string& msg) { d.notes.push_back("flagged image not drawn: " + msg); });
}

// A `cxr xai-eval --json` file read back; its errors start with the file's name.
XaiReport read_xai_file(const std::string& path) {
  const nlohmann::json j = read_json_file(path, "`cxr xai-eval --json` output");
  try {
    return xai_report_from_json(j);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace

const LocalizationSummary* localization_of(const XaiReport& xai, const std::string& kind, const std::string& group) {
  const auto k = xai.localization.find(kind);
  if (k == xai.localization.end()) return nullptr;
  const auto g = k->second.find(group);
  return g == k->second.end() ? nullptr : &g->second;
}

double lesion_pointing_game(const XaiReport& xai) {
  const LocalizationSummary* s = localization_of(xai, "lesion", "all");
  return s ? s->pointing : NAN;
}

double ReportData::pointing_game() const { return xai ? lesion_pointing_game(*xai) : NAN; }
int64_t ReportData::flagged_count() const { return xai ? xai->flagged : -1; }

std::vector<size_t> pick_gallery(const std::vector<int>& labels, const std::vector<int>& predicted,
                                 const std::vector<float>& confidence, int n) {
  const size_t N = std::min({labels.size(), predicted.size(), confidence.size()});
  std::map<std::pair<int, int>, std::vector<size_t>> mistakes;  // (true, predicted) -> indices
  std::map<int, std::vector<size_t>> correct;                   // true class (or -1) -> indices
  for (size_t i = 0; i < N; ++i) {
    if (labels[i] >= 0 && predicted[i] >= 0 && labels[i] != predicted[i])
      mistakes[{labels[i], predicted[i]}].push_back(i);
    else
      correct[labels[i] >= 0 ? labels[i] : -1].push_back(i);
  }
  for (auto& [k, v] : mistakes)
    std::stable_sort(v.begin(), v.end(), [&](size_t a, size_t b) { return confidence[a] > confidence[b]; });
  // Round-robin over the groups, so a flood of one kind of mistake does not hide the others.
  auto take = [&](auto& groups, std::vector<size_t>& out, int limit) {
    bool any = true;
    for (size_t r = 0; any && static_cast<int>(out.size()) < limit; ++r) {
      any = false;
      for (auto& [k, v] : groups)
        if (r < v.size() && static_cast<int>(out.size()) < limit) {
          out.push_back(v[r]);
          any = true;
        }
    }
  };
  std::vector<size_t> m, c;
  take(mistakes, m, n);
  take(correct, c, n - static_cast<int>(m.size()));
  // Display order: grouped.
  std::stable_sort(m.begin(), m.end(), [&](size_t a, size_t b) {
    if (labels[a] != labels[b]) return labels[a] < labels[b];
    if (predicted[a] != predicted[b]) return predicted[a] < predicted[b];
    return confidence[a] > confidence[b];
  });
  std::stable_sort(c.begin(), c.end(), [&](size_t a, size_t b) {
    const int la = labels[a] >= 0 ? labels[a] : predicted[a], lb = labels[b] >= 0 ? labels[b] : predicted[b];
    return la != lb ? la < lb : a < b;
  });
  m.insert(m.end(), c.begin(), c.end());
  return m;
}

static EvalReport eval_from_json_unchecked(const nlohmann::json& j);

EvalReport eval_from_json(const nlohmann::json& j) {
  try {
    return eval_from_json_unchecked(j);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong type: named here, not as a crash
    throw Error(str("not the JSON `cxr eval --json` writes: ", e.what()));
  }
}

static EvalReport eval_from_json_unchecked(const nlohmann::json& j) {
  EvalReport r;
  CXR_CHECK(j.is_object() && j.contains("accuracy") && j.contains("confusion") && j.contains("classes"),
            "not the JSON `cxr eval --json` writes (no accuracy / confusion / classes)");
  r.count = strict_count(j, "count");
  r.accuracy = json_num(j, "accuracy");
  r.macro_f1 = json_num(j, "macro_f1");
  r.loss = json_num(j, "loss");
  // Counts only: get<int>() of 3e91 would be undefined behaviour (fuzz_run_folder).
  const nlohmann::json& conf = j["confusion"];
  bool counts = conf.is_array();
  for (size_t t = 0; counts && t < conf.size(); ++t) {
    counts = conf[t].is_array();
    for (size_t p = 0; counts && p < conf[t].size(); ++p)
      counts = conf[t][p].is_number_integer() && conf[t][p].get<int64_t>() >= 0 && conf[t][p].get<int64_t>() <= INT32_MAX;
  }
  CXR_CHECK(counts, "confusion is not a table of counts");
  r.confusion = conf.get<std::vector<std::vector<int>>>();
  for (const auto& c : j["classes"]) {
    ClassReport cr;
    cr.name = c.value("name", std::string());
    cr.precision = json_num(c, "precision");
    cr.recall = json_num(c, "recall");
    cr.f1 = json_num(c, "f1");
    cr.roc_auc = json_num(c, "roc_auc");
    cr.support = strict_count(c, "support");
    r.classes.push_back(cr);
    RocCurve roc;
    if (c.contains("roc")) {
      roc.fpr = c["roc"].value("fpr", std::vector<double>{});
      roc.tpr = c["roc"].value("tpr", std::vector<double>{});
    }
    r.roc.push_back(roc);
  }
  if (j.contains("per_source"))
    for (const auto& [g, v] : j["per_source"].items()) {
      r.per_group[g] = {strict_count(v, "correct"), strict_count(v, "total")};
      if (!v.contains("confusion")) continue;  // written before eval recorded it
      const nlohmann::json& c = v["confusion"];
      const size_t K = r.classes.size();
      bool square = c.is_array() && c.size() == K;
      for (size_t t = 0; square && t < K; ++t) {
        square = c[t].is_array() && c[t].size() == K;
        for (size_t p = 0; square && p < K; ++p)
          square = c[t][p].is_number_integer() && c[t][p].get<int64_t>() >= 0 && c[t][p].get<int64_t>() <= INT32_MAX;
      }
      CXR_CHECK(square, "per_source.", g, ".confusion is not a ", K, " x ", K, " table of counts");
      r.group_confusion[g] = c.get<std::vector<std::vector<int>>>();
    }
  if (j.contains("per_source"))
    for (const auto& [g, v] : j["per_source"].items())
      if (v.contains("normal_vs_pneumonia_auc")) r.group_auc[g] = json_num(v, "normal_vs_pneumonia_auc");
  if (j.contains("calibration") && j["calibration"].is_object()) {
    const nlohmann::json& c = j["calibration"];
    r.calibration.bins = json_count(c, "bins");
    r.calibration.ece = json_num(c, "ece");
    r.calibration.mce = json_num(c, "mce");
    if (c.contains("reliability"))
      for (const auto& b : c["reliability"])
        r.calibration.reliability.push_back({json_num(b, "lo"), json_num(b, "hi"), json_count(b, "count"),
                                             json_num(b, "confidence"), json_num(b, "accuracy")});
  }
  if (j.contains("temperature") && j["temperature"].is_number()) {
    r.temperature = j["temperature"].get<double>();
    r.temperature_from = j.value("temperature_from", std::string());
  }
  if (j.contains("ci") && j["ci"].is_object()) {
    const nlohmann::json& c = j["ci"];
    r.bootstrap.resamples = json_count(c, "resamples");
    r.bootstrap.seed = c.contains("seed") && c["seed"].is_number_unsigned() ? c["seed"].get<uint64_t>() : 0;
    r.bootstrap.level = std::isfinite(json_num(c, "level")) ? json_num(c, "level") : 0.95;
    r.bootstrap.by_patient = c.value("unit", std::string()) == "patient";
    r.bootstrap.units = json_count(c, "units");
    if (c.contains("intervals"))
      for (const auto& [k, v] : c["intervals"].items())
        r.bootstrap.intervals[k] = {json_num(v, "lo"), json_num(v, "hi"), json_count(v, "defined")};
  }
  return r;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        const std::string v = trim(line.substr(colon + 1));
        if (!v.empty()) return v;
      }
    }
  }
  return "unknown CPU";
}

std::string thumbnail_uri(const Tensor& chw, int side) {
  CXR_CHECK(chw.defined() && chw.dim() == 3, "thumbnail: expected an image [C, H, W], got ",
            chw.defined() ? to_string(chw.shape()) : "undefined");
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  // Gray stays one channel (a third of the bytes); colour drops alpha.
  Tensor t = C <= 2 ? image::to_channels(chw, 1) : image::to_channels(chw, 3);
  const int64_t longer = std::max(H, W);
  if (side > 0 && longer > side) {
    const int64_t h = std::max<int64_t>(1, H * side / longer), w = std::max<int64_t>(1, W * side / longer);
    t = image::resize(t, h, w, true);
  }
  return png_data_uri(image::detail::encode_png(t, "thumbnail"));
}

ReportData gather_report(const ReportOptions& o) {
  ReportData d;
  CXR_CHECK(!o.run_dir.empty(), "no run folder given (--run RUN_DIR)");
  CXR_CHECK(fs::is_directory(o.run_dir), o.run_dir, ": no such run folder");
  const fs::path run(o.run_dir);
  d.run_dir = o.run_dir;
  d.title = o.title.empty() ? "Training report: " + fs::absolute(run).lexically_normal().filename().string() : o.title;
  if (d.title == "Training report: ") d.title += fs::absolute(run).lexically_normal().parent_path().filename().string();
  d.generated = now_string();
  d.machine_cpu = cpu_model();
  d.threads = num_threads();
  d.cores = static_cast<int>(std::thread::hardware_concurrency());

  // Run folder: history (required), config and state (shown when present), the checkpoint.
  const std::string history = (run / "history.csv").string();
  CXR_CHECK(fs::exists(history), history, ": not found: ", o.run_dir,
            " has no training history (is it the --out folder of `cxr train`?)");
  d.history = read_history_csv(history);
  if (fs::exists(run / "config.json"))
    d.config = read_json_file((run / "config.json").string(), "the run's configuration");
  else
    d.notes.push_back((run / "config.json").string() + " not found: the run's configuration is not shown");
  if (fs::exists(run / "state.json")) d.state = read_json_file((run / "state.json").string(), "the run's state");

  d.checkpoint = o.checkpoint;
  if (d.checkpoint.empty()) {
    d.checkpoint = (run / "best.safetensors").string();
    if (!fs::exists(d.checkpoint) && fs::exists(run / "last.safetensors")) {
      d.notes.push_back("no best.safetensors in the run folder: last.safetensors is reported");
      d.checkpoint = (run / "last.safetensors").string();
    }
    CXR_CHECK(fs::exists(d.checkpoint), d.checkpoint, ": not found: ", o.run_dir,
              " has neither best.safetensors nor last.safetensors");
  }
  CXR_CHECK(fs::exists(d.checkpoint), d.checkpoint, ": checkpoint not found");
  io::LoadedModel lm = io::load_model_file(d.checkpoint);
  if (o.check_model) o.check_model(*lm.model);
  d.meta = lm.meta;
  d.classes = lm.meta.classes;
  d.checkpoint_sha256 = sha256_file(d.checkpoint);
  d.checkpoint_bytes = fs::file_size(d.checkpoint);
  try {
    d.summary = summarize(*lm.model);
    d.has_summary = true;
  } catch (const std::exception& e) {
    d.notes.push_back(std::string("model summary not available: ") + e.what());
  }

  // The data and the split.
  d.data = o.data;
  if (d.data.empty() && d.config.is_object()) d.data = d.config.value("data", std::string());
  CXR_CHECK(!d.data.empty(), "no data given (--data DIR|MANIFEST) and ", (run / "config.json").string(),
            " names none");
  data::Dataset ds = data::open_dataset(d.data, {d.classes});
  d.split = data::resolve_split(ds, o.split);
  if (d.split != "all") ds = data::select_split(ds, d.split);
  d.dataset_summary = ds.summary();

  // The files given are read and checked first: a wrong one is refused before minutes of computing.
  if (!o.eval_json.empty()) {
    try {
      d.eval = eval_from_json(read_json_file(o.eval_json, "`cxr eval --json` output"));
    } catch (const Error& e) {
      const std::string m = e.what();
      throw Error(m.starts_with(o.eval_json) ? m : o.eval_json + ": " + m);
    }
    d.eval_source = o.eval_json;
  }
  if (!o.metrics_json.empty()) {
    d.xai = read_xai_file(o.metrics_json);
    d.xai_source = o.metrics_json;
  }
  std::vector<XaiReport> compare;
  for (const auto& path : o.compare_metrics_json) compare.push_back(read_xai_file(path));

  // Test metrics and the per-image predictions the gallery picks from.
  const bool need_predictions = o.eval_json.empty() || (o.explanations_dir.empty() && o.samples > 0);
  DatasetPredictions preds;
  if (need_predictions) {
    auto lo = inference_loader_options(lm.meta.model, lm.norm, std::max(1, o.batch), false);
    preds = predict_dataset(*lm.model, ds, lo, o.progress ? "Evaluating" : "");
  }
  if (o.eval_json.empty()) {
    // As cxr eval does by default: the checkpoint's stored temperature, if any, scales the probabilities.
    const double t = lm.meta.temperature;
    const std::vector<std::vector<float>> probs = t > 0 ? apply_temperature(preds.probs, t) : preds.probs;
    d.eval = evaluate(probs, preds.targets, d.classes, source_groups(ds, preds));
    d.eval.loss = t > 0 ? temperature_nll(preds.probs, preds.targets, t) : preds.loss;
    d.eval.temperature = t;
    if (t > 0) d.eval.temperature_from = "stored in the checkpoint";
    d.eval_source = "computed with the checkpoint";
  }

  if (!o.explanations_dir.empty())
    gallery_from_explanations(d, o.explanations_dir, o);
  else if (o.samples > 0)
    compute_gallery(d, lm, ds, preds, o);

  if (o.metrics_json.empty()) {
    if (o.xai_images > 0)
      compute_xai(d, lm, ds, o);
    else
      d.notes.push_back("explanation metrics were not computed (no --metrics file and --xai-images 0)");
  }
  for (size_t i = 0; i < compare.size(); ++i) {
    if (d.xai_compare.empty()) {
      CXR_CHECK(d.xai.has_value(), o.compare_metrics_json[i], ": a comparison needs the main explanation metrics "
                                                                "too (--metrics, or --xai-images > 0)");
      d.xai_compare.push_back(*d.xai);
    }
    d.xai_compare.push_back(std::move(compare[i]));
  }
  flagged_thumbnails(d, lm, ds, o);
  return d;
}

ReportData write_report(const ReportOptions& options, const std::string& out) {
  CXR_CHECK(!out.empty(), "no output file given (--out report.html)");
  ReportData d = gather_report(options);
  const std::string html = render_report(d);
  const fs::path parent = fs::path(out).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  cxr::write_file_atomic(out, html);
  return d;
}

}  // namespace cxr::report
