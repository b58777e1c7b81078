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
#include "core/progress.h"
#include "explain/cam.h"
#include "explain/metrics.h"
#include "explain/npy.h"
#include "explain/overlay.h"
#include "explain/sha256.h"
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "image/image.h"
#include "data/loader.h"
#include "io/model_file.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string model, arch, normalize, method = "gradcam", layer, cls = "pred", colormap = "jet", upsample = "bilinear";
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  std::string out, masks, mask_kind = "lesion", fuse = "max";
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

void run(const Options& o) {
  CXR_CHECK(o.masks.empty() || o.metrics, "--masks is read by --metrics: add --metrics");
  CXR_CHECK(o.alpha >= 0.0f && o.alpha <= 1.0f, "--alpha ", o.alpha, " must be in [0, 1]");
  CXR_CHECK(o.batch >= 1, "--batch ", o.batch, " must be at least 1");
  CXR_CHECK(o.tile >= 32, "--tile ", o.tile, " must be at least 32");
  cxr::OverlayStyle style;
  style.colormap = cxr::parse_colormap(o.colormap);
  style.upsample = cxr::parse_upsample(o.upsample);
  style.alpha = o.alpha;

  cxr::io::LoadedModel lm = cxr::io::load_model_file(o.model, o.arch, o.normalize, o.external_classes);
  cxr::Model& model = *lm.model;
  const cxr::ModelConfig& mc = lm.meta.model;
  const auto& classes = lm.meta.classes;

  cxr::ExplainRequest req;
  req.method = cxr::method_name(cxr::parse_method(o.method));
  if (!o.layer.empty()) req.layers = {o.layer};
  req.classes = cxr::parse_classes(o.cls, classes, static_cast<int>(classes.size()));
  req.counterfactual = o.counterfactual;
  req.with_guided = !o.no_guided && req.method != "guided";
  req.fuse = o.fuse;
  req.scorecam_batch = o.scorecam_batch;
  req.class_names = classes;
  std::vector<std::string> layer_names;
  if (req.method != "guided")
    for (const auto& l : cxr::resolve_target_layers(model, req.layers)) layer_names.push_back(cxr::display_name(l));

  std::vector<Item> items = cxr::data::expand_image_inputs(o.inputs);
  cxr::XaiOptions xopt;
  xopt.request = req;
  xopt.target = o.cls;
  xopt.normalisation = lm.norm;
  std::map<std::string, cxr::MaskFolder> mask_folders;
  if (!o.masks.empty()) mask_folders = cxr::resolve_mask_folders(o.masks, o.mask_kind);
  std::vector<cxr::XaiImageRow> metric_rows;
  int64_t masks_ambiguous = 0;
  fs::create_directories(o.out);
  std::printf("%s: %s, %s at %s, classes %s, %zu image%s -> %s\n", o.model.c_str(), lm.model->name().c_str(),
              req.method.c_str(), layer_names.empty() ? "input" : cxr::join(layer_names, " + ").c_str(), o.cls.c_str(),
              items.size(), items.size() == 1 ? "" : "s", o.out.c_str());
  const std::string sha = cxr::sha256_file(o.model);

  // Unique output stems.
  std::vector<std::string> stems;
  std::map<std::string, int> seen;
  for (const Item& it : items) {
    std::string s = safe(fs::path(it.path).stem().string());
    const int k = ++seen[s];
    stems.push_back(k == 1 ? s : s + "_" + std::to_string(k));
  }

  nlohmann::json images = nlohmann::json::array();
  int failed = 0, degenerate = 0, explained = 0;
  cxr::Progress bar("Explaining", static_cast<int64_t>(items.size()), stdout);
  const auto t_start = std::chrono::steady_clock::now();
  const int C = mc.in_channels, S = mc.input_size;
  const std::string tag = req.method + (o.counterfactual ? "_cf" : "");

  for (size_t b0 = 0; b0 < items.size(); b0 += static_cast<size_t>(o.batch)) {
    const size_t b1 = std::min(items.size(), b0 + static_cast<size_t>(o.batch));
    const int64_t nb = static_cast<int64_t>(b1 - b0);
    std::vector<cxr::Tensor> originals(static_cast<size_t>(nb)), inputs(static_cast<size_t>(nb));
    std::vector<cxr::Tensor> lesion(static_cast<size_t>(nb)), lung(static_cast<size_t>(nb));
    std::vector<int> ambiguous(static_cast<size_t>(nb), 0);
    std::vector<std::string> errors(static_cast<size_t>(nb));
    std::vector<double> load_s(static_cast<size_t>(nb), 0.0);
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < nb; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      try {
        cxr::image::Image img = cxr::image::load_image(items[b0 + static_cast<size_t>(i)].path);
        originals[static_cast<size_t>(i)] = img.pixels;
        inputs[static_cast<size_t>(i)] = cxr::data::preprocess_image(img.pixels, S, C, lm.norm);
        if (o.metrics) {  // masks at the model input's size: manifest column first, else the --masks folder
          const Item& it = items[b0 + static_cast<size_t>(i)];
          auto find = [&](const std::string& kind, const std::string& column) {
            if (!column.empty()) return cxr::load_mask(column, S, S);
            auto f = mask_folders.find(kind);
            if (f == mask_folders.end()) return cxr::Tensor();
            bool amb = false;
            const std::string p = f->second.find(it.path, &amb);
            ambiguous[static_cast<size_t>(i)] += amb;
            return p.empty() ? cxr::Tensor() : cxr::load_mask(p, S, S);
          };
          lesion[static_cast<size_t>(i)] = find("lesion", it.lesion_mask);
          lung[static_cast<size_t>(i)] = find("lung", it.lung_mask);
        }
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(i)] = e.what();
      }
      load_s[static_cast<size_t>(i)] = seconds_since(t0);
    }
    std::vector<int64_t> good;
    for (int64_t i = 0; i < nb; ++i) {
      if (errors[static_cast<size_t>(i)].empty()) {
        good.push_back(i);
      } else {
        std::fprintf(stderr, "\ncxr explain: error: %s\n", errors[static_cast<size_t>(i)].c_str());
        ++failed;
      }
    }
    if (good.empty()) {
      bar.update(static_cast<int64_t>(b1), {}, static_cast<int64_t>(b1));
      continue;
    }
    cxr::Tensor x = cxr::Tensor::empty({static_cast<int64_t>(good.size()), C, S, S});
    for (size_t g = 0; g < good.size(); ++g) {
      const cxr::Tensor& in = inputs[static_cast<size_t>(good[g])];
      std::copy(in.data(), in.data() + C * S * S, x.data() + static_cast<int64_t>(g) * C * S * S);
    }
    const auto t_expl = std::chrono::steady_clock::now();
    cxr::Tensor probs;
    auto res = cxr::explain_batch(model, x, req, &probs);
    const double expl_share = seconds_since(t_expl) / static_cast<double>(good.size());

    if (o.metrics) {  // one metrics row per explanation (per image and explained class)
      std::vector<cxr::Tensor> les, lu;
      for (int64_t i : good) {
        les.push_back(lesion[static_cast<size_t>(i)]);
        lu.push_back(lung[static_cast<size_t>(i)]);
        masks_ambiguous += ambiguous[static_cast<size_t>(i)];
      }
      for (size_t k = 0; k < res[0].size(); ++k) {
        std::vector<cxr::Explanation> ex;
        for (size_t g = 0; g < good.size(); ++g) ex.push_back(res[g][k]);
        std::vector<cxr::XaiImageRow> rows = cxr::evaluate_batch(model, x, ex, les, lu, xopt);
        for (size_t g = 0; g < good.size(); ++g) {
          const size_t i = b0 + static_cast<size_t>(good[g]);
          cxr::XaiImageRow& r = rows[g];
          r.index = static_cast<int64_t>(i);
          r.path = items[i].path;
          r.source = items[i].source;
          const auto lab = std::find(classes.begin(), classes.end(), items[i].label);
          r.label = lab == classes.end() ? -1 : static_cast<int>(lab - classes.begin());
          const float* row = probs.data() + g * classes.size();
          r.predicted = cxr::argmax(row, static_cast<int64_t>(classes.size()));
          metric_rows.push_back(std::move(r));
        }
      }
    }

    // Draw and save, in parallel over (image, explanation) pairs.
    std::vector<std::pair<size_t, size_t>> jobs;
    for (size_t g = 0; g < good.size(); ++g)
      for (size_t k = 0; k < res[g].size(); ++k) jobs.push_back({g, k});
    std::vector<nlohmann::json> job_json(jobs.size());
    std::vector<double> draw_s(good.size(), 0.0);
    std::vector<std::string> draw_err(jobs.size());
#pragma omp parallel for schedule(dynamic)
    for (size_t j = 0; j < jobs.size(); ++j) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto [g, k] = jobs[j];
      const size_t i = static_cast<size_t>(good[g]);
      const cxr::Explanation& e = res[g][k];
      const cxr::Tensor& orig = originals[i];
      const std::string prefix = stems[b0 + i] + "_" + safe(e.class_name) + "_" + tag;
      nlohmann::json files = nlohmann::json::object();
      try {
        cxr::Rendered r = cxr::render(e, orig, style);
        auto save = [&](const std::string& key, const std::string& suffix, const cxr::Tensor& img) {
          const std::string name = prefix + suffix;
          cxr::image::save_png((fs::path(o.out) / name).string(), img);
          files[key] = name;
        };
        save("overlay", "_overlay.png", r.overlay);
        save("heatmap", "_heatmap.png", r.heatmap);
        if (r.guided.defined()) save("guided", "_guided.png", r.guided);
        if (!o.no_panel) save("panel", "_panel.png", cxr::make_panel(e, orig, style, "", o.tile));
        if (o.save_raw) {
          cxr::save_npy((fs::path(o.out) / (prefix + "_raw.npy")).string(), e.raw);
          files["raw"] = prefix + "_raw.npy";
          if (e.guided.defined()) {
            cxr::save_npy((fs::path(o.out) / (prefix + "_guided.npy")).string(), e.guided);
            files["guided_raw"] = prefix + "_guided.npy";
          }
        }
      } catch (const std::exception& ex) {
        draw_err[j] = ex.what();
      }
      nlohmann::json je = {{"class", e.class_name},
                           {"class_index", e.class_index},
                           {"probability", e.probability},
                           {"score", e.score},
                           {"degenerate", e.degenerate},
                           {"files", files},
                           {"raw_shape", e.raw.shape()}};
      if (e.degenerate) je["degenerate_reason"] = e.degenerate_reason;
      job_json[j] = je;
      const double dt = seconds_since(t0);
#pragma omp atomic
      draw_s[g] += dt;
    }
    for (size_t g = 0; g < good.size(); ++g) {
      const size_t i = static_cast<size_t>(good[g]);
      const Item& it = items[b0 + i];
      const float* row = probs.data() + g * classes.size();
      const size_t pred = static_cast<size_t>(cxr::argmax(row, static_cast<int64_t>(classes.size())));
      nlohmann::json ji = {{"file", it.path},
                           {"width", originals[i].size(2)},
                           {"height", originals[i].size(1)},
                           {"predicted", classes[pred]}};
      if (!it.label.empty()) ji["label"] = it.label;
      for (size_t c = 0; c < classes.size(); ++c)
        ji["probabilities"][classes[c]] = probs[static_cast<int64_t>(g * classes.size() + c)];
      ji["seconds"] = {{"load", load_s[i]}, {"explain", expl_share}, {"draw", draw_s[g]}};
      ji["explanations"] = nlohmann::json::array();
      for (size_t j = 0; j < jobs.size(); ++j) {
        if (jobs[j].first != g) continue;
        if (!draw_err[j].empty()) {
          std::fprintf(stderr, "\ncxr explain: error: %s\n", draw_err[j].c_str());
          ++failed;
          job_json[j]["error"] = draw_err[j];
        }
        if (job_json[j]["degenerate"].get<bool>()) {
          ++degenerate;
          std::fprintf(stderr, "\ncxr explain: warning: %s, class %s: flat map (%s); drawn grey, not as a heatmap\n",
                       it.path.c_str(), job_json[j]["class"].get<std::string>().c_str(),
                       job_json[j]["degenerate_reason"].get<std::string>().c_str());
        }
        ++explained;
        ji["explanations"].push_back(job_json[j]);
      }
      images.push_back(ji);
    }
    bar.update(static_cast<int64_t>(b1), {}, static_cast<int64_t>(b1));
  }
  const double total = seconds_since(t_start);
  bar.finish();
  std::string metrics_file;
  if (o.metrics) {
    cxr::XaiReport rep = cxr::make_report(std::move(metric_rows), classes, xopt);
    rep.model = lm.model->name();
    rep.method = req.method;
    rep.layer = layer_names.empty() ? "input" : cxr::join(layer_names, " + ");
    rep.input_size = S;
    rep.shortcut_band = xopt.shortcut.band >= 0 ? xopt.shortcut.band : cxr::default_shortcut_band(S);
    rep.mask_ambiguous = masks_ambiguous;
    rep.seconds = total;
    nlohmann::json jm = cxr::to_json(rep);
    jm["checkpoint"] = o.model;
    jm["checkpoint_sha256"] = sha;
    metrics_file = (fs::path(o.out) / "metrics.json").string();
    cxr::write_file_atomic(metrics_file, jm.dump(2) + "\n");
    std::printf("\n%s", cxr::format_report(rep).c_str());
    if (masks_ambiguous)
      std::fprintf(stderr, "cxr explain: warning: %lld mask(s) matched several files equally well and were left out\n",
                   static_cast<long long>(masks_ambiguous));
  }

  nlohmann::json manifest = {
      {"tool", "cxr explain"},
      {"checkpoint", o.model},
      {"checkpoint_sha256", sha},
      {"model", lm.model->name()},
      {"model_config", mc},
      {"classes", classes},
      {"method", req.method},
      {"counterfactual", o.counterfactual},
      {"layers", layer_names},
      {"fuse", layer_names.size() > 1 ? nlohmann::json(o.fuse) : nlohmann::json()},
      {"class_request", o.cls},
      {"colormap", o.colormap},
      {"alpha", o.alpha},
      {"upsample", o.upsample},
      {"input_size", S},
      {"normalisation", lm.norm.name},
      {"batch", o.batch},
      {"threads", omp_get_max_threads()},
      {"images", images},
      {"explanations", explained},
      {"degenerate", degenerate},
      {"failed", failed},
      {"metrics", metrics_file.empty() ? nlohmann::json() : nlohmann::json("metrics.json")},
      {"seconds_total", total}};
  cxr::write_file_atomic((fs::path(o.out) / "explanations.json").string(), manifest.dump(2) + "\n");
  std::printf("%d explanation%s of %zu image%s in %.2f s (%.3f s/image)%s; manifest %s\n", explained,
              explained == 1 ? "" : "s", images.size(), images.size() == 1 ? "" : "s", total,
              images.empty() ? 0.0 : total / static_cast<double>(images.size()),
              degenerate ? cxr::str(", ", degenerate, " flat (flagged)").c_str() : "",
              (fs::path(o.out) / "explanations.json").string().c_str());
  if (failed) throw cxr::Error(cxr::str(failed, " image(s) or drawing(s) failed (see the errors above)"));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  const std::string methods = cxr::join(cxr::method_names(), " | ");
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_option("--method", o->method, "Explanation method: " + methods)->capture_default_str()
      ->check(cxr::cli::explanation_method());
  app.add_option("--layer", o->layer,
                 "Target layer: torch name or alias (relu5_3, conv4_3, features.29, block5_conv3); several "
                 "joined with + are fused (default: the last conv block's ReLU)");
  app.add_option("--class", o->cls, "Class to explain: pred (the predicted one), all, or names / indices "
                                    "separated by commas")->capture_default_str();
  app.add_flag("--counterfactual", o->counterfactual, "Explain what speaks AGAINST the class (negated gradients)");
  app.add_option("--colormap", o->colormap, "jet | turbo | inferno | gray")->capture_default_str();
  app.add_option("--alpha", o->alpha, "Heatmap weight in the overlay, 0..1")->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--upsample", o->upsample, "Map to image: bilinear | nearest | bicubic")->capture_default_str();
  app.add_flag("--save-raw", o->save_raw, "Also save the raw signed map at layer resolution as .npy (float32)");
  app.add_option("--batch", o->batch, "Images per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--fuse", o->fuse, "Combining several layers: max | sum")->capture_default_str();
  app.add_option("--scorecam-batch", o->scorecam_batch, "Masked images per forward in Score-CAM")
      ->capture_default_str();
  app.add_flag("--no-guided", o->no_guided, "Skip guided backprop (the panel's 4th tile; saves a backward pass)");
  app.add_flag("--no-panel", o->no_panel, "Do not write the panel PNGs");
  app.add_option("--tile", o->tile, "Panel tile height in pixels")->capture_default_str();
  app.add_flag("--metrics", o->metrics, "Also measure the explanations (deletion / insertion, AD / IC, pointing "
                                        "game, energy share, shortcut finder) into metrics.json");
  app.add_option("--masks", o->masks, "For --metrics: folder of mask images matched by file name; with lesion/ "
                                      "and lung/ sub-folders (cxr synth's OUT/masks) both are used");
  app.add_option("--mask-kind", o->mask_kind, "What a plain --masks folder holds: lesion | lung")
      ->check(CLI::IsMember({"lesion", "lung"}))
      ->capture_default_str();
  app.add_option("--out", o->out, "Output folder")->required();
  app.add_option("inputs", o->inputs, "Images, folders (class folders or plain) or CSV manifests")->required();
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"explain", "Grad-CAM & co.: where the network looked, drawn on the original images", 60,
                       setup};

}  // namespace
