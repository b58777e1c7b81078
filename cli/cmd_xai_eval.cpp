// cxr xai-eval: how far to trust a checkpoint's explanations on a dataset (explain/metrics.h).
//
//   cxr xai-eval --model runs/synth/best.safetensors --data out/synth --split test --limit 60 --json xai.json
//   cxr xai-eval --model best.safetensors --data test.csv --method gradcam++ --layer conv4_3 --sanity
//   cxr xai-eval --model best.safetensors --data data/test --masks lesion_masks/ --mask-kind lesion
//
// For each image: the map of the predicted class (--target true: the labelled class), deletion / insertion
// AUC, its share of Average Drop / Increase in Confidence, pointing game and energy share on the lesion and
// lung masks when there are any (manifest columns lung_mask / lesion_mask, as `cxr synth` writes, or a
// --masks folder matched by file name), and the shortcut finder's border / outside-lung shares. Prints a
// table of aggregates and the flagged images; --json writes everything, per image too. Under mpirun the
// images are shared out over the ranks and rank 0 writes what one process writes.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/atomic_file.h"
#include "data/dataset.h"
#include "dist/gather_json.h"
#include "explain/metrics.h"
#include "io/model_file.h"

namespace {

struct Options {
  cxr::CamMethod method = cxr::CamMethod::GradCAM;
  std::string model, arch, normalize, data, split = "auto", layer, target = "pred", masks;
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  std::string mask_kind = "lesion", deletion_baseline = "zeros", insertion_baseline = "blur", json;
  int64_t limit = 0;
  int batch = 8, steps = 16, score_batch = 32, sanity_images = 4, top = 10;
  bool sanity = false, no_faithfulness = false;
  uint64_t seed = 0;
};

void run(const Options& o) {
  cxr::io::LoadedModel lm = cxr::io::load_model_file(o.model, o.arch, o.normalize, o.external_classes);
  cxr::data::Dataset ds = cxr::data::open_dataset(o.data, {lm.meta.classes});
  const std::string split = cxr::data::resolve_split(ds, o.split);
  if (split != "all") ds = cxr::data::select_split(ds, split);

  cxr::XaiOptions opt;
  opt.request.method = o.method;
  if (!o.layer.empty()) {
    opt.request.layers = {o.layer};
    cxr::cli::option_value("--layer", [&] { cxr::resolve_target_layers(*lm.model, opt.request.layers); });
  }
  opt.request.class_names = lm.meta.classes;
  opt.target = o.target;
  opt.normalisation = lm.norm;
  opt.limit = o.limit;
  opt.batch = o.batch;
  opt.faithfulness.steps = o.steps;
  opt.faithfulness.batch = o.score_batch;
  opt.faithfulness.deletion_baseline = cxr::parse_baseline(o.deletion_baseline);
  opt.faithfulness.insertion_baseline = cxr::parse_baseline(o.insertion_baseline);
  opt.with_faithfulness = !o.no_faithfulness;
  opt.masks_dir = o.masks;
  opt.mask_kind = o.mask_kind;
  opt.sanity_images = o.sanity ? o.sanity_images : 0;
  opt.sanity.seed = o.seed;
  opt.progress = true;

  const int64_t n = o.limit > 0 ? std::min(o.limit, ds.size()) : ds.size();
  std::printf("%s (%s split), evaluating %lld image%s\n", ds.summary().c_str(), split.c_str(),
              static_cast<long long>(n), n == 1 ? "" : "s");
  // Under mpirun each rank explains its share; rank 0 gets the whole report, prints and writes it.
  cxr::dist::Comm& comm = cxr::dist::world();
  cxr::XaiReport r = cxr::evaluate_explanations(*lm.model, ds, opt, &comm);
  const int64_t failed = cxr::dist::sum_over_ranks(comm, comm.is_root() ? r.failed : 0);
  if (!comm.is_root()) {
    if (failed) throw cxr::dist::AllRanksError("");  // rank 0 says it
    return;
  }
  std::printf("\n%s", cxr::format_report(r, o.top).c_str());
  std::printf("%.1f s\n", r.seconds);
  if (r.mask_ambiguous)
    std::fprintf(stderr, "cxr xai-eval: warning: %lld mask(s) matched several files equally well and were left out\n",
                 static_cast<long long>(r.mask_ambiguous));
  if (!o.json.empty()) {
    nlohmann::json j = cxr::to_json(r);
    j["checkpoint"] = o.model;
    j["data"] = o.data;
    j["split"] = split;
    cxr::write_file_atomic(o.json, j.dump(2) + "\n");
    std::printf("report written to %s\n", o.json.c_str());
  }
  for (const auto& row : r.rows)
    if (!row.error.empty()) std::fprintf(stderr, "cxr xai-eval: error: %s\n", row.error.c_str());
  if (failed)
    throw cxr::dist::AllRanksError(cxr::str(failed, " image(s) could not be evaluated (see the errors above)"));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_option("--data", o->data, "Folder with one sub-folder per class, or a CSV manifest")->required();
  app.add_option("--split", o->split, "test | val | train | all | auto (test, else val, else all)")
      ->capture_default_str()->transform(cxr::cli::split_name());
  cxr::cli::add_method_option(app, o->method, "Explanation method");
  app.add_option("--layer", o->layer, "Target layer (default: the last conv block's ReLU); several joined with +");
  app.add_option("--target", o->target, "Class to explain: pred (predicted) | true (the label)")
      ->check(CLI::IsMember({"pred", "true"}))
      ->capture_default_str();
  app.add_option("--limit", o->limit, "Only N images, evenly spaced over the dataset (0: all)")->capture_default_str()
      ->check(cxr::cli::at_least(0));
  app.add_option("--batch", o->batch, "Images explained per forward")->capture_default_str()
      ->check(cxr::cli::at_least(1));
  app.add_option("--steps", o->steps, "Deletion / insertion steps")->capture_default_str()->check(cxr::cli::at_least(1));
  app.add_option("--score-batch", o->score_batch, "Perturbed images per forward")->capture_default_str()
      ->check(cxr::cli::at_least(1));
  app.add_option("--deletion-baseline", o->deletion_baseline, "What deleted pixels become: zeros | blur")
      ->capture_default_str()->check(cxr::cli::parsed_by(cxr::parse_baseline));
  app.add_option("--insertion-baseline", o->insertion_baseline, "What insertion starts from: zeros | blur")
      ->capture_default_str()->check(cxr::cli::parsed_by(cxr::parse_baseline));
  app.add_flag("--no-faithfulness", o->no_faithfulness, "Skip deletion / insertion / AD / IC (the slow part)");
  app.add_option("--masks", o->masks,
                 "Folder of mask images matched by file name (stem, optional _mask / -mask); "
                 "with lesion/ and lung/ sub-folders (cxr synth's OUT/masks) both are used");
  app.add_option("--mask-kind", o->mask_kind, "What a plain --masks folder holds: lesion | lung")
      ->check(CLI::IsMember({"lesion", "lung"}))
      ->capture_default_str();
  app.add_flag("--sanity", o->sanity, "Also run the cascading-randomisation sanity check");
  app.add_option("--sanity-images", o->sanity_images, "Images for the sanity check")->capture_default_str()
      ->check(cxr::cli::at_least(1));
  app.add_option("--seed", o->seed, "Seed of the sanity check's random weights")->capture_default_str();
  app.add_option("--top", o->top, "Flagged images to list")->capture_default_str()->check(cxr::cli::at_least(0));
  app.add_option("--json", o->json, "Also write the whole report (per image too) as JSON to this file");
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"xai-eval",
                       "Explanation metrics: deletion/insertion, AD/IC, pointing game, shortcut finder, sanity check",
                       65, setup, cxr::cli::Ranks::shared};

}  // namespace
