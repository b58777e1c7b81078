// cxr report: one self-contained HTML page about a training run (report/report.h).
//
//   cxr report --run runs/synth --data out/synth --out report.html
//   cxr report --run runs/synth --data out/synth --split test --eval eval.json --explanations expl/
//              --metrics xai.json --samples 16 --out report.html      (one line)
//
// Training curves, test metrics (confusion, ROC, per class, per source), a gallery of test images with their
// Grad-CAM overlays (mistakes first), explanation metrics and the shortcut finder's flagged images, the model
// summary, and the run's configuration and provenance. Whatever is not given as a file (--eval,
// --explanations, --metrics) is computed here from the run's best checkpoint.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include <cctype>
#include <filesystem>

#include "cli/command.h"
#include "core/strings.h"
#include "report/html.h"
#include "report/report.h"

namespace {

namespace fs = std::filesystem;

struct Options {
  cxr::report::ReportOptions r;
  std::string out;
  bool no_faithfulness = false;
};

void run(Options o) {
  o.r.faithfulness = !o.no_faithfulness;
  o.r.progress = true;
  // The page replaces --out: never one of the files it reads, nor a file that is not a page already (a
  // slip of `--out runs/x/best.safetensors` would otherwise destroy the model).
  const fs::path out(o.out);
  if (fs::exists(out)) {
    const std::string ext = cxr::lower(out.extension().string());
    CXR_CHECK(!fs::is_directory(out), "--out ", o.out, " is a folder: give the HTML file to write");
    CXR_CHECK(ext == ".html" || ext == ".htm", "--out ", o.out, " exists and is not an HTML page (.html): not "
              "overwritten; choose another file name");
    for (const std::string* in : {&o.r.checkpoint, &o.r.eval_json, &o.r.metrics_json})
      CXR_CHECK(in->empty() || !fs::exists(*in) || !fs::equivalent(out, *in), "--out ", o.out,
                " is one of the report's inputs: not overwritten");
  }
  // A --layer the model lacks is a usage error (exit 2), found before anything is evaluated.
  o.r.check_model = [layer = o.r.layer](cxr::Model& m) {
    if (!layer.empty()) cxr::cli::option_value("--layer", [&] { cxr::resolve_target_layers(m, {layer}); });
  };
  const cxr::report::ReportData d = cxr::report::write_report(o.r, o.out);
  const double pg = d.pointing_game();
  const int64_t fl = d.flagged_count();
  std::printf("report written to %s\n", o.out.c_str());
  std::printf("  test accuracy   %s (macro-F1 %s, %d images, %s split)\n", cxr::report::fmt_pct(d.eval.accuracy).c_str(),
              cxr::report::fmt_fixed(d.eval.macro_f1, 3).c_str(), d.eval.count, d.split.c_str());
  // What the explanation metrics measured: "guided-gradcam at features.32 (relu4_3)".
  auto what = [](const cxr::XaiReport& x) { return std::string(cxr::method_name(x.method)) + " at " + x.layer; };
  std::printf("  pointing game   %s\n",
              std::isfinite(pg) ? (cxr::report::fmt_pct(pg) + " of lesions hit by the map's peak (" + what(*d.xai) + ")").c_str()
                                : "n/a");
  if (fl >= 0) {
    // Flagged / explained per source, over every explained image (not only the thumbnails drawn).
    std::map<std::string, std::pair<int, int>> by_source;
    for (const cxr::XaiImageRow& r : d.xai->rows) {
      auto& [flagged, total] = by_source[r.source.empty() ? "unknown source" : r.source];
      ++total;
      if (r.shortcut.flagged) ++flagged;
    }
    std::string sources;
    for (const auto& [s, n] : by_source)
      if (n.first > 0)
        sources += (sources.empty() ? "" : ", ") + s + " " + std::to_string(n.first) + " of " + std::to_string(n.second);
    std::printf("  shortcut finder %lld of %zu explained images flagged%s\n", static_cast<long long>(fl),
                d.xai->rows.size(), sources.empty() ? "" : (" (by source: " + sources + ")").c_str());
  } else {
    std::printf("  shortcut finder n/a\n");
  }
  for (size_t i = 1; i < d.xai_compare.size(); ++i) {
    const auto& x = d.xai_compare[i];
    std::printf("  compared        %s: pointing game %s, %lld flagged\n", what(x).c_str(),
                cxr::report::fmt_pct(cxr::report::lesion_pointing_game(x)).c_str(),
                static_cast<long long>(x.flagged));
  }
  for (const auto& n : d.notes) std::printf("  note: %s\n", n.c_str());
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--run", o->r.run_dir, "Run folder of `cxr train` (history.csv, best.safetensors, config.json)")
      ->required();
  app.add_option("--data", o->r.data, "Folder or CSV manifest to evaluate on (default: the run's training data)");
  app.add_option("--split", o->r.split, "test | val | train | all | auto (test, else val, else all)")
      ->capture_default_str()->transform(cxr::cli::split_name());
  app.add_option("--checkpoint", o->r.checkpoint, "Checkpoint to report (default: RUN/best.safetensors)");
  app.add_option("--eval", o->r.eval_json, "Read test metrics from this `cxr eval --json` file instead of evaluating");
  app.add_option("--explanations", o->r.explanations_dir,
                 "Gallery from this `cxr explain --out` folder instead of explaining here");
  app.add_option("--metrics", o->r.metrics_json,
                 "Explanation metrics from this `cxr xai-eval --json` file instead of computing them");
  app.add_option("--compare-metrics", o->r.compare_metrics_json,
                 "More `cxr xai-eval --json` files (other methods or layers): a table compares them with the main "
                 "metrics");
  app.add_option("--samples", o->r.samples, "Images in the gallery")->capture_default_str()
      ->check(cxr::cli::at_least(0));
  app.add_option("--xai-images", o->r.xai_images,
                 "Images (evenly spaced over the split) for the explanation metrics computed here (0: none)")
      ->capture_default_str()->check(cxr::cli::at_least(0));
  app.add_flag("--no-faithfulness", o->no_faithfulness,
               "Computed metrics without deletion / insertion / AD / IC (the slow part)");
  cxr::cli::add_method_option(app, o->r.method, "Explanation method for the gallery and computed metrics");
  app.add_option("--layer", o->r.layer, "Their target layer, e.g. relu4_3 (default: the last conv block's ReLU)");
  app.add_option("--batch", o->r.batch, "Images per forward pass")->capture_default_str()->check(cxr::cli::at_least(1));
  app.add_option("--thumb", o->r.thumb, "Thumbnail side in pixels")->capture_default_str()
      ->check(cxr::cli::at_least(32));
  app.add_option("--title", o->r.title, "Page title (default: Training report: <run folder>)");
  app.add_option("--out", o->out, "The HTML file to write")->required();
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"report", "One self-contained HTML report of a training run: curves, metrics, Grad-CAM, "
                                 "shortcuts", 70, setup};

}  // namespace
