// cxr eval: accuracy, per-class precision / recall / F1 / support, macro-F1, confusion matrix, one-vs-rest
// ROC AUC, and accuracy per `source` (when the manifest has that column) of a checkpoint on a dataset.
// Several checkpoints (--model A --model B ...) are scored as an ensemble: the mean of their probabilities
// (each model reads the images at its own input size and normalisation; their classes must agree).
// --tta N averages each model over N views of every image: the plain one and N-1 draws of the xray
// augmentation (training's default), the same draws on every run.
//
// --ci N adds 95% percentile bootstrap intervals over patients (train/bootstrap.h) to every figure; the
// probabilities are scaled by the checkpoint's stored temperature unless --temperature says otherwise, and
// --fit-temperature fits one on the validation split and stores it in the checkpoint (train/calibration.h).
//
//   cxr eval --model runs/synth/best.safetensors --data out/synth --split test [--json metrics.json]
//            [--predictions per_image.csv] [--ci 1000] [--fit-temperature]
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "train/bootstrap.h"
#include "train/calibration.h"
#include "train/evaluate.h"
#include "train/metrics.h"

namespace {

struct Options {
  std::vector<std::string> models;
  std::string data, split = "auto", json, predictions, arch, normalize;
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  int batch = 32, tta = 1;
  bool skip_bad = false;
  int ci = 0;             // bootstrap resamples (0: no intervals)
  uint64_t ci_seed = 1;
  std::string temperature = "stored";
  bool fit_temperature = false;
};

// Models of an ensemble must name the same classes, in the same order, for their probabilities to be averaged.
void check_same_classes(const std::string& path, const std::vector<std::string>& have,
                        const std::vector<std::string>& before) {
  if (have != before)
    throw cxr::Error(cxr::str(path, ": classes ", cxr::join(have, ", "), " differ from those of the models before it (",
                              cxr::join(before, ", "), "): they cannot be averaged"));
}

// Opens the data (the split the first model's classes and --split select) and runs every model over it;
// with several models, prints each one's accuracy and returns the mean of their probabilities.
cxr::DatasetPredictions predict_all(const Options& o, cxr::data::Dataset& ds, std::string& split,
                                    std::vector<std::string>& classes) {
  // The checkpoints' classes are checked against each other before any is run (from the headers, or
  // --classes for files without metadata), so a mismatch does not surface after minutes of scoring. A
  // file without metadata and without --classes is checked when it is loaded, below.
  std::vector<std::string> first_classes;
  for (size_t m = 0; m < o.models.size(); ++m) {
    const cxr::io::CheckpointMeta meta = cxr::io::read_checkpoint_meta(o.models[m]);
    const std::vector<std::string>& named = meta.found ? meta.classes : o.external_classes;
    if (named.empty()) continue;
    if (first_classes.empty()) first_classes = named;
    check_same_classes(o.models[m], named, first_classes);
  }
  std::vector<cxr::DatasetPredictions> runs;
  for (size_t m = 0; m < o.models.size(); ++m) {
    cxr::io::LoadedModel lm = cxr::io::load_model_file(o.models[m], o.arch, o.normalize, o.external_classes);
    if (m == 0) {
      classes = lm.meta.classes;
      ds = cxr::data::open_dataset(o.data, {classes});
      split = cxr::data::resolve_split(ds, o.split);
      if (split != "all") ds = cxr::data::select_split(ds, split);
      std::printf("%s (%s split)\n", ds.summary().c_str(), split.c_str());
      if (o.tta > 1)
        std::printf("test-time augmentation: %d views per image (the plain image and %d xray draws)\n", o.tta,
                    o.tta - 1);
    } else {
      check_same_classes(o.models[m], lm.meta.classes, classes);
    }
    const cxr::ModelConfig& mc = lm.meta.model;
    std::printf("model%s: %s (%s, width %g, %d px, %d channel%s)\n",
                o.models.size() == 1 ? "" : cxr::str(" ", m + 1).c_str(), o.models[m].c_str(),
                cxr::model_name(mc).c_str(), mc.width, mc.input_size, mc.in_channels, mc.in_channels == 1 ? "" : "s");
    auto opt = cxr::inference_loader_options(mc, lm.norm, o.batch, o.skip_bad);
    const std::string label = o.models.size() == 1 ? "Evaluating" : cxr::str("Model ", m + 1, "/", o.models.size());
    // Under mpirun each rank scores its share of the images; rank 0 gathers them (train/evaluate.h).
    runs.push_back(cxr::predict_dataset_sharded(*lm.model, ds, opt, cxr::image::AugmentParams::xray(), o.tta, label,
                                                cxr::dist::world()));
    if (!cxr::dist::world().is_root()) continue;  // the other ranks hold no predictions
    if (o.models.size() > 1) {
      const cxr::EvalReport one = cxr::evaluate(runs.back().probs, runs.back().targets, classes);
      std::printf("  %s: accuracy %.4f  macro-F1 %.4f  loss %.4f\n", o.models[m].c_str(), one.accuracy,
                  one.macro_f1, runs.back().loss);
    }
  }
  if (!cxr::dist::world().is_root()) return {};
  if (runs.size() == 1) return std::move(runs[0]);
  std::printf("\nEnsemble of %zu models (mean of their probabilities):\n", runs.size());
  return cxr::average_predictions(runs);
}

// The patient of each prediction row (source and id, so equal ids of two sources stay apart), "" where the
// manifest has none: the bootstrap's resampling units.
std::vector<std::string> patient_clusters(const cxr::data::Dataset& ds, const cxr::DatasetPredictions& p) {
  std::vector<std::string> c;
  for (int64_t i : p.indices) {
    const cxr::data::Sample& s = ds.samples[static_cast<size_t>(i)];
    c.push_back(s.patient_id.empty() ? std::string() : s.source + '\x1f' + s.patient_id);
  }
  return c;
}

// --fit-temperature: fits T on the validation split's predictions, prints NLL and ECE before and after, and
// stores T in the checkpoint. Returns T.
double fit_and_store(const Options& o, const cxr::DatasetPredictions& val, bool same_split) {
  const cxr::TemperatureFit fit = cxr::fit_temperature(val.probs, val.targets);
  const cxr::Calibration before = cxr::calibration(val.probs, val.targets);
  const cxr::Calibration after = cxr::calibration(cxr::apply_temperature(val.probs, fit.temperature), val.targets);
  std::printf("\ntemperature scaling fitted on the val split (%zu images): T = %.4f%s\n", val.targets.size(),
              fit.temperature, fit.at_bound ? " (at the end of the search range: the fit is not an interior minimum)" : "");
  std::printf("  val NLL %.4f -> %.4f   val ECE %.4f -> %.4f   val MCE %.4f -> %.4f\n", fit.nll_before, fit.nll_after,
              before.ece, after.ece, before.mce, after.mce);
  if (same_split)
    std::printf("  (the split evaluated below is the one T was fitted on: its calibration is in-sample)\n");
  cxr::io::set_checkpoint_temperature(o.models[0], fit.temperature);
  std::printf("  stored in %s (metadata \"temperature\")\n", o.models[0].c_str());
  return fit.temperature;
}

// The temperature --temperature picks (0: none) and where it came from.
std::pair<double, std::string> chosen_temperature(const Options& o) {
  const cxr::cli::TemperatureChoice c = cxr::cli::parse_temperature(o.temperature);
  if (c.kind == cxr::cli::TemperatureChoice::Kind::none) return {0, ""};
  if (c.kind == cxr::cli::TemperatureChoice::Kind::value) return {c.value, "given by --temperature"};
  if (o.models.size() > 1) {  // an ensemble's average is its own model: one member's T does not fit it
    std::printf("stored temperatures are not applied to an ensemble (give --temperature T to scale its average)\n");
    return {0, ""};
  }
  const double t = cxr::io::read_checkpoint_meta(o.models[0]).temperature;
  return {t, t > 0 ? "stored in the checkpoint" : ""};
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->models, "Checkpoint (.safetensors); repeat it to score an ensemble (mean of the "
                                      "models' probabilities; --arch and --normalize apply to each)")
      ->required()->allow_extra_args(false);
  app.add_option("--data", o->data, "Folder with one sub-folder per class, or a CSV manifest")->required();
  app.add_option("--split", o->split, "Which split to evaluate: test | val | train | all | auto (test, else val, "
                                      "else all)")->capture_default_str()->transform(cxr::cli::split_name());
  app.add_option("--json", o->json, "Also write the metrics as JSON to this file");
  app.add_option("--predictions", o->predictions, "Also write one CSV row per image: file, label, source, "
                                                  "predicted, correct, p_<class>...");
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_option("--batch", o->batch, "Batch size")->capture_default_str()->check(cxr::cli::at_least(1));
  app.add_option("--tta", o->tta, "Test-time augmentation: average each model over N views, the plain image and "
                                  "N-1 fixed draws of the xray augmentation (1: off)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  app.add_flag("--skip-bad", o->skip_bad, "Skip unreadable images instead of stopping");
  app.add_option("--ci", o->ci, "95% percentile bootstrap intervals on every figure, from N resamples of the "
                                "patients (of the images where the data has no patient ids); 1000 is usual")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--ci-seed", o->ci_seed, "Seed of the bootstrap's resampling (the intervals do not depend on "
                                          "the thread count)")->capture_default_str();
  cxr::cli::add_temperature_option(app, o->temperature);
  app.add_flag("--fit-temperature", o->fit_temperature, "Fit a temperature on the val split (minimum NLL), print "
                                                        "NLL and ECE before and after, store it in the checkpoint "
                                                        "and apply it here");
  app.callback([o] {
    cxr::cli::usage_check(!o->fit_temperature || o->models.size() == 1, "--fit-temperature",
                          "fits one checkpoint's temperature: give one --model");
    cxr::cli::usage_check(!o->fit_temperature || o->temperature == "stored", "--fit-temperature",
                          "applies the temperature it fits: leave --temperature out");
    cxr::data::Dataset ds;
    std::string split;
    std::vector<std::string> classes;
    cxr::DatasetPredictions p = predict_all(*o, ds, split, classes);
    auto [temperature, from] = chosen_temperature(*o);
    if (o->fit_temperature) {
      cxr::DatasetPredictions val;
      if (split != "val") {  // every rank takes part in the second pass, as in the first
        Options vo = *o;
        vo.split = "val";
        cxr::data::Dataset vds;
        std::string vsplit;
        std::vector<std::string> vclasses;
        std::printf("\n");
        val = predict_all(vo, vds, vsplit, vclasses);
        CXR_CHECK(!cxr::dist::world().is_root() || vsplit == "val", o->data, ": no val split to fit a temperature on");
      }
      if (cxr::dist::world().is_root()) {
        temperature = fit_and_store(*o, split == "val" ? p : val, split == "val");
        from = "fitted on the val split by --fit-temperature";
      }
    }
    if (!cxr::dist::world().is_root()) return;  // rank 0 reports and writes
    double loss = p.loss;
    if (temperature > 0) {
      loss = cxr::temperature_nll(p.probs, p.targets, temperature);
      p.probs = cxr::apply_temperature(p.probs, temperature);
    }
    const std::vector<std::string> groups = cxr::source_groups(ds, p);
    cxr::EvalReport r = cxr::evaluate(p.probs, p.targets, classes, groups);
    r.loss = loss;
    r.temperature = temperature;
    r.temperature_from = from;
    if (o->ci > 0 && !p.targets.empty()) {
      const cxr::BootstrapOptions bo{o->ci, o->ci_seed, 0.95};
      r.bootstrap = cxr::bootstrap_intervals(p.probs, p.targets, classes, groups, patient_clusters(ds, p), bo);
    }
    const int64_t skipped = ds.size() - static_cast<int64_t>(p.targets.size());  // unreadable, with --skip-bad
    std::printf("\n%s", cxr::format_report(r).c_str());
    std::printf("loss %.4f%s\n", r.loss, temperature > 0 ? " (of the temperature-scaled probabilities)" : "");
    if (skipped > 0)
      std::printf("skipped %lld unreadable image(s) of %lld (--skip-bad): the figures above leave them out\n",
                  static_cast<long long>(skipped), static_cast<long long>(ds.size()));
    if (!o->json.empty()) {
      nlohmann::json j = cxr::to_json(r);
      j["model"] = cxr::join(o->models, " + ");  // one checkpoint's path, or an ensemble's joined
      j["models"] = o->models;
      j["data"] = o->data;
      j["split"] = split;
      j["tta"] = o->tta;  // views averaged per model (1: none)
      j["skipped"] = skipped;  // unreadable images left out (--skip-bad)
      cxr::write_file_atomic(o->json, j.dump(2) + "\n");
      std::printf("metrics written to %s\n", o->json.c_str());
    }
    if (!o->predictions.empty()) {
      cxr::write_file_atomic(o->predictions, cxr::predictions_csv(ds, p));
      std::printf("per-image predictions written to %s\n", o->predictions.c_str());
    }
  });
}

cxr::cli::Register reg{"eval", "Evaluate a checkpoint on a dataset: accuracy, F1, confusion, ROC AUC, per source",
                       40, setup, cxr::cli::Ranks::shared};

}  // namespace
