// cxr explain: where the network looked. Class activation maps for images, folders or manifests, drawn on
// each ORIGINAL image at its own resolution, with a panel per explanation and a JSON manifest of the run.
//
//   cxr explain --model runs/vgg/best.safetensors --out expl/ scan.png
//   cxr explain --model best.safetensors --method gradcam++ --layer conv4_3 --class all --out expl/ data/test
//   cxr explain --model best.safetensors --class COVID19 --counterfactual --save-raw --out expl/ test.csv
//
// Per image and explained class, in --out:  <stem>_<CLASS>_<method>_overlay.png (original size),
// _heatmap.png (original size), _panel.png (original | heatmap | overlay | guided Grad-CAM), _guided.png (the
// guided Grad-CAM at original size, when computed), _raw.npy (--save-raw: the signed map at layer
// resolution; _guided.npy too), and explanations.json for the whole run (checkpoint SHA-256, method, layer,
// classes, probabilities, timings, files, degenerate flags). Flat maps are flagged and drawn grey.
//
// --metrics also measures each explanation (explain/metrics.h: deletion / insertion AUC, AD / IC, pointing
// game and energy share on lesion / lung masks, shortcut finder): masks come from a manifest's lung_mask /
// lesion_mask columns or a --masks folder; the report goes to metrics.json in --out and to the terminal.
//
// Images are processed in batches of --batch (one forward for the batch, OpenMP inside the ops); decoding
// and drawing run in parallel over the batch's images.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cli/command.h"
#include "core/argmax.h"
#include "core/atomic_file.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "dist/gather_json.h"
#include "explain/cam.h"
#include "explain/metrics.h"
#include "explain/npy.h"
#include "explain/overlay.h"
#include "explain/pipeline.h"
#include "explain/sha256.h"
#include "image/image.h"
#include "io/model_file.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  cxr::CamMethod method = cxr::CamMethod::GradCAM;
  cxr::FuseMode fuse = cxr::FuseMode::Max;
  std::string model, arch, normalize, layer, cls = "pred", colormap = "jet", upsample = "bilinear";
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  std::string out, masks, mask_kind = "lesion";
  float alpha = 0.5f;
  bool counterfactual = false, save_raw = false, metrics = false, no_guided = false, no_panel = false;
  int batch = 8, scorecam_batch = 32, tile = 256;
  std::vector<std::string> inputs;
};

using Item = cxr::data::NamedImage;

// A file-name-safe version of s (class names, stems).
std::string safe(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  return o.empty() ? "x" : o;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What one run writes: the options' view of the request, and the stems of the output files.
struct Run {
  const Options& o;
  cxr::io::LoadedModel& lm;
  cxr::ExplainRequest req;
  std::vector<std::string> layer_names;  // display names; empty for guided backprop (the input)
  std::vector<std::string> layer_ids;    // "features.32": metrics.json keeps them beside the display names
  std::vector<Item> items;
  std::vector<std::string> stems;        // unique file-name stems, one per item
  std::string tag;                       // method, with _cf for counterfactuals
  cxr::OverlayStyle style;
};

// Unique, file-name-safe stems: scan.png and scan.jpg become scan and scan_2.
std::vector<std::string> unique_stems(const std::vector<Item>& items) {
  std::vector<std::string> stems;
  std::map<std::string, int> seen;
  for (const Item& it : items) {
    std::string s = safe(fs::path(it.path).stem().string());
    const int k = ++seen[s];
    stems.push_back(k == 1 ? s : s + "_" + std::to_string(k));
  }
  return stems;
}

// Draws and saves one explanation of one image; returns its record for explanations.json (with "error"
// when a file could not be written).
nlohmann::json save_explanation(const Run& run, const cxr::ExplainedImage& im, const cxr::Explanation& e) {
  const Options& o = run.o;
  const std::string prefix = run.stems[im.index] + "_" + safe(e.class_name) + "_" + run.tag;
  nlohmann::json files = nlohmann::json::object();
  std::string error;
  try {
    cxr::Rendered r = cxr::render(e, im.original, run.style);
    auto save = [&](const std::string& key, const std::string& suffix, const cxr::Tensor& img) {
      const std::string name = prefix + suffix;
      cxr::image::save_png((fs::path(o.out) / name).string(), img);
      files[key] = name;
    };
    save("overlay", "_overlay.png", r.overlay);
    save("heatmap", "_heatmap.png", r.heatmap);
    if (r.guided.defined()) save("guided", "_guided.png", r.guided);
    if (!o.no_panel) save("panel", "_panel.png", cxr::make_panel(e, im.original, run.style, "", o.tile));
    if (o.save_raw) {
      cxr::save_npy((fs::path(o.out) / (prefix + "_raw.npy")).string(), e.raw);
      files["raw"] = prefix + "_raw.npy";
      if (e.guided.defined()) {
        cxr::save_npy((fs::path(o.out) / (prefix + "_guided.npy")).string(), e.guided);
        files["guided_raw"] = prefix + "_guided.npy";
      }
    }
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  nlohmann::json je = {{"class", e.class_name},
                       {"class_index", e.class_index},
                       {"probability", e.probability},
                       {"score", e.score},
                       {"degenerate", e.degenerate},
                       {"files", files},
                       {"raw_shape", e.raw.shape()}};
  if (e.degenerate) je["degenerate_reason"] = e.degenerate_reason;
  if (!error.empty()) je["error"] = error;
  return je;
}

// One metrics row per explanation (per image and explained class) of a batch.
void measure_batch(const Run& run, cxr::Model& model, const cxr::ExplainedBatch& b, const cxr::XaiOptions& xopt,
                   std::vector<cxr::XaiImageRow>& rows) {
  const auto& classes = run.lm.meta.classes;
  std::vector<cxr::Tensor> les, lu;
  for (const cxr::ExplainedImage& im : b.images) {
    les.push_back(im.lesion);
    lu.push_back(im.lung);
  }
  for (size_t k = 0; k < b.images[0].explanations.size(); ++k) {
    std::vector<cxr::Explanation> ex;
    for (const cxr::ExplainedImage& im : b.images) ex.push_back(im.explanations[k]);
    std::vector<cxr::XaiImageRow> got = cxr::evaluate_batch(model, b.inputs, ex, les, lu, xopt);
    for (size_t g = 0; g < b.images.size(); ++g) {
      const Item& it = run.items[b.images[g].index];
      cxr::XaiImageRow& r = got[g];
      r.index = static_cast<int64_t>(b.images[g].index);
      r.path = it.path;
      r.source = it.source;
      const auto lab = std::find(classes.begin(), classes.end(), it.label);
      r.label = lab == classes.end() ? -1 : static_cast<int>(lab - classes.begin());
      r.predicted = cxr::argmax(b.probabilities.data() + g * classes.size(), static_cast<int64_t>(classes.size()));
      rows.push_back(std::move(r));
    }
  }
}

// The image's record in explanations.json, without its explanations.
nlohmann::json image_record(const Run& run, const cxr::ExplainedBatch& b, size_t g, double draw_seconds) {
  const auto& classes = run.lm.meta.classes;
  const cxr::ExplainedImage& im = b.images[g];
  const Item& it = run.items[im.index];
  const float* row = b.probabilities.data() + g * classes.size();
  const size_t pred = static_cast<size_t>(cxr::argmax(row, static_cast<int64_t>(classes.size())));
  nlohmann::json ji = {{"file", it.path},
                       {"width", im.original.size(2)},
                       {"height", im.original.size(1)},
                       {"predicted", classes[pred]}};
  if (!it.label.empty()) ji["label"] = it.label;
  for (size_t c = 0; c < classes.size(); ++c) ji["probabilities"][classes[c]] = row[c];
  ji["seconds"] = {{"load", im.load_seconds},
                   {"explain", b.explain_seconds / static_cast<double>(b.images.size())},
                   {"draw", draw_seconds}};
  ji["explanations"] = nlohmann::json::array();
  return ji;
}

// The options, read into the request and the names of what will be written.
Run make_run(const Options& o, cxr::io::LoadedModel& lm) {
  cxr::cli::usage_check(!o.counterfactual || cxr::uses_gradients(o.method), "--counterfactual",
                        cxr::str("applies to the gradient methods, not to ", cxr::method_name(o.method)));
  const auto& classes = lm.meta.classes;
  Run run{o, lm, {}, {}, {}, cxr::data::expand_image_inputs(o.inputs), {}, "", {}};
  run.style.colormap = cxr::parse_colormap(o.colormap);
  run.style.upsample = cxr::parse_upsample(o.upsample);
  run.style.alpha = o.alpha;
  cxr::ExplainRequest& req = run.req;
  req.method = o.method;
  if (!o.layer.empty()) req.layers = {o.layer};
  req.classes = cxr::cli::option_value(  // parse_classes' message names --class
      "", [&] { return cxr::parse_classes(o.cls, classes, static_cast<int>(classes.size())); });
  req.counterfactual = o.counterfactual;
  req.with_guided = !o.no_guided && req.method != cxr::CamMethod::Guided;
  req.fuse = o.fuse;
  req.scorecam_batch = o.scorecam_batch;
  req.class_names = classes;
  if (req.method != cxr::CamMethod::Guided)
    for (const auto& l : cxr::cli::option_value("--layer", [&] { return cxr::resolve_target_layers(*lm.model, req.layers); })) {
      run.layer_names.push_back(cxr::display_name(l));
      run.layer_ids.push_back(l.name);
    }
  run.stems = unique_stems(run.items);
  run.tag = std::string(cxr::method_name(req.method)) + (o.counterfactual ? "_cf" : "");
  return run;
}

// "relu5_3 (features.29)", several joined by " + "; "input" for guided backprop.
std::string layers_shown(const Run& run) {
  return run.layer_names.empty() ? "input" : cxr::join(run.layer_names, " + ");
}

// What the batches give: explanations.json's image records, the metrics rows, and the counts.
struct Outcome {
  nlohmann::json images = nlohmann::json::array();
  std::vector<cxr::XaiImageRow> metric_rows;
  int64_t masks_ambiguous = 0;
  int failed = 0, degenerate = 0, explained = 0;
};

// One explained batch: measured (--metrics), drawn and saved in parallel over (image, explanation) pairs,
// and recorded; write errors and flat maps reported on stderr.
void save_batch(const Run& run, cxr::ExplainedBatch& b, const cxr::XaiOptions& xopt, Outcome& out) {
  if (run.o.metrics && !b.images.empty()) measure_batch(run, *run.lm.model, b, xopt, out.metric_rows);
  std::vector<std::pair<size_t, size_t>> jobs;
  for (size_t g = 0; g < b.images.size(); ++g)
    for (size_t k = 0; k < b.images[g].explanations.size(); ++k) jobs.push_back({g, k});
  std::vector<nlohmann::json> job_json(jobs.size());
  std::vector<double> draw_s(b.images.size(), 0.0);
#pragma omp parallel for schedule(dynamic)
  for (size_t j = 0; j < jobs.size(); ++j) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [g, k] = jobs[j];
    job_json[j] = save_explanation(run, b.images[g], b.images[g].explanations[k]);
    const double dt = seconds_since(t0);
#pragma omp atomic
    draw_s[g] += dt;
  }
  for (size_t g = 0; g < b.images.size(); ++g) {
    out.masks_ambiguous += b.images[g].masks_ambiguous;
    nlohmann::json ji = image_record(run, b, g, draw_s[g]);
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (jobs[j].first != g) continue;
      if (job_json[j].contains("error")) {
        std::fprintf(stderr, "\ncxr explain: error: %s\n", job_json[j]["error"].get<std::string>().c_str());
        ++out.failed;
      }
      if (job_json[j]["degenerate"].get<bool>()) {
        ++out.degenerate;
        std::fprintf(stderr, "\ncxr explain: warning: %s, class %s: flat map (%s); drawn grey, not as a heatmap\n",
                     run.items[b.images[g].index].path.c_str(), job_json[j]["class"].get<std::string>().c_str(),
                     job_json[j]["degenerate_reason"].get<std::string>().c_str());
      }
      ++out.explained;
      ji["explanations"].push_back(job_json[j]);
    }
    out.images.push_back(ji);
  }
}

// Under mpirun: rank 0 gets every rank's records and rows in input order; every rank the counts.
void gather(cxr::dist::Comm& comm, const Run& run, const cxr::XaiOptions& xopt, Outcome& out) {
  if (comm.size() == 1) return;
  out.images = cxr::dist::gather_arrays(comm, out.images);
  out.failed = static_cast<int>(cxr::dist::sum_over_ranks(comm, out.failed));
  out.degenerate = static_cast<int>(cxr::dist::sum_over_ranks(comm, out.degenerate));
  out.explained = static_cast<int>(cxr::dist::sum_over_ranks(comm, out.explained));
  out.masks_ambiguous = cxr::dist::sum_over_ranks(comm, out.masks_ambiguous);
  if (run.o.metrics) out.metric_rows = cxr::gather_rows(comm, std::move(out.metric_rows), run.lm.meta.classes, xopt);
}

// --metrics: the report of the rows, to OUT/metrics.json and the terminal; returns the file's path.
std::string write_metrics(const Run& run, Outcome& out, const cxr::XaiOptions& xopt, const std::string& sha,
                          double seconds) {
  const cxr::Model& model = *run.lm.model;
  cxr::XaiReport rep = cxr::make_report(std::move(out.metric_rows), run.lm.meta.classes, xopt);
  rep.model = model.name();
  rep.method = run.req.method;
  rep.layers = run.layer_ids;
  rep.layer = layers_shown(run);
  rep.input_size = model.config().input_size;
  rep.shortcut_band = xopt.shortcut.band >= 0 ? xopt.shortcut.band : cxr::default_shortcut_band(rep.input_size);
  rep.mask_ambiguous = out.masks_ambiguous;
  rep.seconds = seconds;
  nlohmann::json jm = cxr::to_json(rep);
  jm["checkpoint"] = run.o.model;
  jm["checkpoint_sha256"] = sha;
  const std::string file = (fs::path(run.o.out) / "metrics.json").string();
  cxr::write_file_atomic(file, jm.dump(2) + "\n");
  std::printf("\n%s", cxr::format_report(rep).c_str());
  if (out.masks_ambiguous)
    std::fprintf(stderr, "cxr explain: warning: %lld mask(s) matched several files equally well and were left out\n",
                 static_cast<long long>(out.masks_ambiguous));
  return file;
}

// OUT/explanations.json: the run's settings, its checkpoint, and every image's record.
void write_manifest(const Run& run, const Outcome& out, const std::string& sha, const std::string& metrics_file,
                    double seconds) {
  const Options& o = run.o;
  const cxr::io::LoadedModel& lm = run.lm;
  nlohmann::json manifest = {
      {"tool", "cxr explain"},
      {"checkpoint", o.model},
      {"checkpoint_sha256", sha},
      {"model", lm.model->name()},
      {"model_config", lm.meta.model},
      {"classes", lm.meta.classes},
      {"method", cxr::method_name(run.req.method)},
      {"counterfactual", o.counterfactual},
      {"layers", run.layer_names},
      {"fuse", run.layer_names.size() > 1 ? nlohmann::json(cxr::fuse_name(o.fuse)) : nlohmann::json()},
      {"class_request", o.cls},
      {"colormap", o.colormap},
      {"alpha", o.alpha},
      {"upsample", o.upsample},
      {"input_size", lm.model->config().input_size},
      {"normalisation", lm.norm.name},
      {"batch", o.batch},
      {"threads", omp_get_max_threads()},
      {"images", out.images},
      {"explanations", out.explained},
      {"degenerate", out.degenerate},
      {"failed", out.failed},
      {"metrics", metrics_file.empty() ? nlohmann::json() : nlohmann::json("metrics.json")},
      {"seconds_total", seconds}};
  cxr::write_file_atomic((fs::path(o.out) / "explanations.json").string(), manifest.dump(2) + "\n");
}

// Under mpirun each rank explains whole batches of one process's batching (the same forwards) and saves
// those images' files; rank 0 writes explanations.json and metrics.json for the whole run.
void run(const Options& o) {
  cxr::io::LoadedModel lm = cxr::io::load_model_file(o.model, o.arch, o.normalize, o.external_classes);
  const Run run = make_run(o, lm);
  cxr::dist::Comm& comm = cxr::dist::world();
  const cxr::dist::Range mine = cxr::dist::share_batches(static_cast<int64_t>(run.items.size()), o.batch,
                                                         comm.rank(), comm.size());
  std::vector<cxr::ImageToExplain> inputs;
  for (int64_t i = mine.begin; i < mine.end; ++i) {
    const Item& it = run.items[static_cast<size_t>(i)];
    inputs.push_back({it.path, -1, it.lesion_mask, it.lung_mask});
  }
  cxr::ExplainPipelineOptions po;
  po.request = run.req;
  po.normalisation = lm.norm;
  po.batch = o.batch;
  po.masks = o.metrics;
  if (!o.masks.empty()) po.mask_folders = cxr::resolve_mask_folders(o.masks, o.mask_kind);
  cxr::XaiOptions xopt;
  xopt.request = run.req;
  xopt.target = o.cls;
  xopt.normalisation = lm.norm;

  if (comm.is_root()) fs::create_directories(o.out);
  comm.barrier();  // every rank writes its images' files there
  std::printf("%s: %s, %s at %s, classes %s, %zu image%s -> %s\n", o.model.c_str(), lm.model->name().c_str(),
              cxr::method_name(run.req.method), layers_shown(run).c_str(), o.cls.c_str(), run.items.size(), run.items.size() == 1 ? "" : "s", o.out.c_str());
  const std::string sha = cxr::sha256_file(o.model);
  Outcome out;
  cxr::Progress bar(comm.size() > 1 ? "Explaining (rank 0's share)" : "Explaining", mine.size(), stdout);
  const auto t_start = std::chrono::steady_clock::now();
  cxr::explain_images(
      *lm.model, inputs, po,
      [&](cxr::ExplainedBatch& b) {
        for (cxr::ExplainedImage& im : b.images) im.index += static_cast<size_t>(mine.begin);  // into run.items
        save_batch(run, b, xopt, out);
        bar.update(static_cast<int64_t>(b.end), {}, static_cast<int64_t>(b.end));
      },
      [&](size_t, const std::string& message) {
        std::fprintf(stderr, "\ncxr explain: error: %s\n", message.c_str());
        ++out.failed;
      });
  bar.finish();
  gather(comm, run, xopt, out);
  const double total = seconds_since(t_start);

  if (comm.is_root()) {
    const std::string metrics_file = o.metrics ? write_metrics(run, out, xopt, sha, total) : "";
    write_manifest(run, out, sha, metrics_file, total);
  }
  const size_t n = out.images.size();
  std::printf("%d explanation%s of %zu image%s in %.2f s (%.3f s/image)%s; manifest %s\n", out.explained,
              out.explained == 1 ? "" : "s", n, n == 1 ? "" : "s", total, n == 0 ? 0.0 : total / static_cast<double>(n),
              out.degenerate ? cxr::str(", ", out.degenerate, " flat (flagged)").c_str() : "",
              (fs::path(o.out) / "explanations.json").string().c_str());
  if (out.failed)  // the same count on every rank
    throw cxr::dist::AllRanksError(cxr::str(out.failed, " image(s) or drawing(s) failed (see the errors above)"));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  cxr::cli::add_method_option(app, o->method, "Explanation method");
  app.add_option("--layer", o->layer,
                 "Target layer: torch name or alias (relu5_3, conv4_3, features.29, block5_conv3); several "
                 "joined with + are fused (default: the last conv block's ReLU)");
  app.add_option("--class", o->cls, "Class to explain: pred (the predicted one), all, or names / indices "
                                    "separated by commas")->capture_default_str();
  app.add_flag("--counterfactual", o->counterfactual, "Explain what speaks AGAINST the class (negated gradients)");
  app.add_option("--colormap", o->colormap, "jet | turbo | inferno | gray")->capture_default_str()
      ->check(cxr::cli::parsed_by(cxr::parse_colormap));
  app.add_option("--alpha", o->alpha, "Heatmap weight in the overlay, 0..1")->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--upsample", o->upsample, "Map to image: bilinear | nearest | bicubic")->capture_default_str()
      ->check(cxr::cli::parsed_by(cxr::parse_upsample));
  app.add_flag("--save-raw", o->save_raw, "Also save the raw signed map at layer resolution as .npy (float32)");
  app.add_option("--batch", o->batch, "Images per forward pass")->capture_default_str()->check(cxr::cli::at_least(1));
  cxr::cli::add_fuse_option(app, o->fuse);
  app.add_option("--scorecam-batch", o->scorecam_batch, "Masked images per forward in Score-CAM")
      ->capture_default_str()->check(cxr::cli::at_least(1));
  app.add_flag("--no-guided", o->no_guided, "Skip guided backprop (the panel's 4th tile; saves a backward pass)");
  app.add_flag("--no-panel", o->no_panel, "Do not write the panel PNGs");
  app.add_option("--tile", o->tile, "Panel tile height in pixels")->capture_default_str()
      ->check(cxr::cli::at_least(32));
  CLI::Option* metrics = app.add_flag("--metrics", o->metrics, "Also measure the explanations (deletion / insertion, AD / IC, pointing "
                                        "game, energy share, shortcut finder) into metrics.json");
  app.add_option("--masks", o->masks, "For --metrics: folder of mask images matched by file name; with lesion/ "
                                      "and lung/ sub-folders (cxr synth's OUT/masks) both are used")
      ->needs(metrics);
  app.add_option("--mask-kind", o->mask_kind, "What a plain --masks folder holds: lesion | lung")
      ->check(CLI::IsMember({"lesion", "lung"}))
      ->capture_default_str();
  app.add_option("--out", o->out, "Output folder")->required();
  app.add_option("inputs", o->inputs, "Images, folders (class folders or plain) or CSV manifests")->required();
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"explain", "Grad-CAM & co.: where the network looked, drawn on the original images", 60,
                       setup, cxr::cli::Ranks::shared};

}  // namespace
