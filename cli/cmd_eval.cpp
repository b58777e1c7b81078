// cxr eval: accuracy, per-class precision / recall / F1 / support, macro-F1, confusion matrix, one-vs-rest
// ROC AUC, and accuracy per `source` (when the manifest has that column) of a checkpoint on a dataset.
//
//   cxr eval --model runs/synth/best.safetensors --data out/synth --split test [--json metrics.json]
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "io/atomic_file.h"
#include "io/dataset.h"
#include "io/model_file.h"
#include "train/evaluate.h"
#include "train/metrics.h"

namespace {

struct Options {
  std::string model, data, split = "auto", json, arch, normalize;
  int batch = 32;
  bool skip_bad = false;
};

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  app.add_option("--data", o->data, "Folder with one sub-folder per class, or a CSV manifest")->required();
  app.add_option("--split", o->split, "Which split to evaluate: test | val | train | all | auto (test, else val, "
                                      "else all)")->capture_default_str();
  app.add_option("--json", o->json, "Also write the metrics as JSON to this file");
  cxr::cli::add_external_model_options(app, o->arch, o->normalize);
  app.add_option("--batch", o->batch, "Batch size")->capture_default_str();
  app.add_flag("--skip-bad", o->skip_bad, "Skip unreadable images instead of stopping");
  app.callback([o] {
    cxr::io::LoadedModel lm = cxr::io::load_model_file(o->model, o->arch, o->normalize);
    cxr::io::Dataset ds = cxr::io::open_dataset(o->data, {lm.meta.classes});
    const std::string split = cxr::io::resolve_split(ds, o->split);
    if (split != "all") ds = cxr::io::select_split(ds, split);
    std::printf("%s (%s split)\n", ds.summary().c_str(), split.c_str());
    auto opt = cxr::inference_loader_options(lm.meta.model, lm.norm, o->batch, o->skip_bad);
    cxr::DatasetPredictions p = cxr::predict_dataset(*lm.model, ds, opt, "Evaluating");
    std::vector<std::string> groups;
    bool has_source = false;
    for (int64_t i : p.indices) has_source = has_source || !ds.samples[i].source.empty();
    if (has_source)
      for (int64_t i : p.indices) groups.push_back(ds.samples[i].source.empty() ? "(none)" : ds.samples[i].source);
    cxr::EvalReport r = cxr::evaluate(p.probs, p.targets, lm.meta.classes, groups);
    r.loss = p.loss;
    std::printf("\n%s", cxr::format_report(r).c_str());
    std::printf("loss %.4f\n", r.loss);
    if (!o->json.empty()) {
      nlohmann::json j = cxr::to_json(r);
      j["model"] = o->model;
      j["data"] = o->data;
      j["split"] = split;
      cxr::io::write_file_atomic(o->json, j.dump(2) + "\n");
      std::printf("metrics written to %s\n", o->json.c_str());
    }
  });
}

cxr::cli::Register reg{"eval", "Evaluate a checkpoint on a dataset: accuracy, F1, confusion, ROC AUC, per source",
                       40, setup};

}  // namespace
