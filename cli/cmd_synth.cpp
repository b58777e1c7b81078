// cxr synth --out DIR: generate a synthetic chest X-ray dataset (phantoms with lung and lesion masks), so
// training and explaining need no download and Grad-CAM maps can be scored against the lesion masks.
//
//   cxr synth --out data/synth                           300 / 60 / 60 images per class (train / val / test)
//   cxr synth --out data/tiny --count 20 --size 64       20 per class in every split
//   cxr synth --out data/sc --shortcut-rate 0.8 --shortcut-class COVID19 --difficulty 0.6
//
// Layout, manifest and classes: see data/synth.h. The same --seed gives the same images whatever --threads.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "data/synth.h"

namespace {

struct Args {
  cxr::data::SynthOptions o;
  std::string out;
  int count = -1;
  int train = -1, val = -1, test = -1;
};

void run_synth(Args a) {
  cxr::data::SynthOptions& o = a.o;
  if (a.count >= 0) o.train = o.val = o.test = a.count;
  if (a.train >= 0) o.train = a.train;
  if (a.val >= 0) o.val = a.val;
  if (a.test >= 0) o.test = a.test;
  cxr::data::SynthStats s = cxr::data::write_dataset(o, a.out);
  std::printf("cxr synth: %lld images (%zu classes; train %lld, val %lld, test %lld; %lld with marker) of %dx%d "
              "in %.2f s (%.0f images/s) -> %s/manifest.csv\n",
              static_cast<long long>(s.images), o.classes.size(), static_cast<long long>(s.per_split[0]),
              static_cast<long long>(s.per_split[1]), static_cast<long long>(s.per_split[2]),
              static_cast<long long>(s.with_marker), o.size, o.size, s.seconds,
              s.seconds > 0 ? s.images / s.seconds : 0.0, a.out.c_str());
}

cxr::cli::Register reg{"synth", "Generate synthetic chest X-ray phantoms with lung and lesion masks", 15,
                       [](CLI::App& app) {
  auto a = std::make_shared<Args>();
  app.add_option("--out", a->out, "Output folder (created; files inside are overwritten)")->required();
  app.add_option("--size", a->o.size, "Image side in pixels (>= 32)")->capture_default_str()
      ->check(CLI::Range(32, 8192));
  app.add_option("--count", a->count, "Images per class in EVERY split (default: train 300, val 60, test 60)")
      ->check(cxr::cli::at_least(0));
  app.add_option("--train", a->train, "Images per class in train (overrides --count)")->check(cxr::cli::at_least(0));
  app.add_option("--val", a->val, "Images per class in val (overrides --count)")->check(cxr::cli::at_least(0));
  app.add_option("--test", a->test, "Images per class in test (overrides --count)")->check(cxr::cli::at_least(0));
  app.add_option("--seed", a->o.seed, "Random seed (same seed, same images)")->capture_default_str();
  app.add_option("--difficulty", a->o.difficulty,
                 "0..1: higher lowers lesion contrast and adds distractors (vessel crowding, breast and nipple "
                 "shadows, noise, blur)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--lesion-contrast", a->o.lesion_contrast,
                 "Lesion strength multiplier, overriding the one set by --difficulty (1 - 0.7 * difficulty)")
      ->check(CLI::Range(0.0, 10.0));
  app.add_option("--shortcut-rate", a->o.shortcut_rate,
                 "Probability that an image of --shortcut-class carries a burned-in marker (a shortcut)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--shortcut-class", a->o.shortcut_class, "Class that gets the marker")
      ->capture_default_str()
      ->check(CLI::IsMember({"COVID19", "NORMAL", "PNEUMONIA"}));
  app.add_option("--classes", a->o.classes, "Classes to generate (comma-separated subset)")
      ->delimiter(',')
      ->check(CLI::IsMember({"COVID19", "NORMAL", "PNEUMONIA"}));
  app.callback([a] { run_synth(*a); });
}, cxr::cli::Ranks::one, cxr::cli::ThreadsOption::common, cxr::cli::ConvOption::none};  // runs no model

}  // namespace
