// cxr eval: accuracy, per-class precision / recall / F1 / support, macro-F1, confusion matrix, one-vs-rest
// ROC AUC, and accuracy per `source` (when the manifest has that column) of a checkpoint on a dataset.
// Several checkpoints (--model A --model B ...) are scored as an ensemble: the mean of their probabilities
// (each model reads the images at its own input size and normalisation; their classes must agree).
// --tta N averages each model over N views of every image: the plain one and N-1 draws of the xray
// augmentation (training's default), the same draws on every run.
//
//   cxr eval --model runs/synth/best.safetensors --data out/synth --split test [--json metrics.json]
//            [--predictions per_image.csv]
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "train/evaluate.h"
#include "train/metrics.h"

namespace {

struct Options {
  std::vector<std::string> models;
  std::string data, split = "auto", json, predictions, arch, normalize;
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  int batch = 32, tta = 1;
  bool skip_bad = false;
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
  app.callback([o] {
    cxr::data::Dataset ds;
    std::string split;
    std::vector<std::string> classes;
    cxr::DatasetPredictions p = predict_all(*o, ds, split, classes);
    if (!cxr::dist::world().is_root()) return;  // rank 0 reports and writes
    cxr::EvalReport r = cxr::evaluate(p.probs, p.targets, classes, cxr::source_groups(ds, p));
    r.loss = p.loss;
    const int64_t skipped = ds.size() - static_cast<int64_t>(p.targets.size());  // unreadable, with --skip-bad
    std::printf("\n%s", cxr::format_report(r).c_str());
    std::printf("loss %.4f\n", r.loss);
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
