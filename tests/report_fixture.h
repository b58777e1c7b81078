// A hand-made training run for the report tests: a tiny synthetic dataset (with lung / lesion masks, a few
// marker images, and one image whose path is an HTML injection attempt), a fresh untrained VGG-11-BN at
// 64 px saved with io::save_checkpoint, a history.csv and a config.json. Fast: no training.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "data/synth.h"
#include "io/checkpoint.h"
#include "models/model.h"
#include "tiny_model.h"
#include "train/config.h"
#include "train/history.h"

namespace cxr::report_test {

// The injection attempt: a folder "<script>alert(1)<" holding "script>.png", so the path reads
// ".../<script>alert(1)</script>.png". Its manifest source also carries markup and an ampersand.
inline const char* kEvilName = "<script>alert(1)</script>.png";
inline const char* kEvilSource = "<i>evil</i>&co";

struct ReportFixture {
  std::string root, run, data, checkpoint;
  int test_images = 0;
};

inline ReportFixture make_report_fixture(const std::string& name) {
  namespace fs = std::filesystem;
  ReportFixture f;
  const fs::path root = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "run");
  f.root = root.string();
  f.run = (root / "run").string();
  f.data = (root / "data").string();

  data::SynthOptions so;
  so.size = 64;
  so.seed = 3;
  so.train = 2;
  so.val = 1;
  so.test = 3;
  so.shortcut_rate = 0.7f;
  data::write_dataset(so, f.data);
  f.test_images = 3 * 3 + 1;

  // The evil file: a copy of a test image under an HTML-like path, appended to the manifest.
  const fs::path evil_dir = fs::path(f.data) / "test" / "COVID19" / "<script>alert(1)<";
  fs::create_directories(evil_dir);
  fs::path some_image;
  for (const auto& e : fs::directory_iterator(fs::path(f.data) / "test" / "COVID19"))
    if (e.is_regular_file()) {
      some_image = e.path();
      break;
    }
  fs::copy_file(some_image, evil_dir / "script>.png");
  std::string manifest = cxr::read_file((fs::path(f.data) / "manifest.csv").string());
  manifest += std::string("test/COVID19/") + kEvilName + ",COVID19,test," + kEvilSource + ",p-evil,,,0\n";
  cxr::write_file_atomic((fs::path(f.data) / "manifest.csv").string(), manifest);

  const ModelConfig mc = cxr::test::tiny_vgg11_config(1);
  auto model = make_model(mc);
  io::CheckpointMeta meta;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  meta.epoch = 3;
  meta.step = 12;
  meta.seed = 7;
  meta.source = "cxr train";
  meta.created = "2024-05-01T12:00:00Z";
  meta.metrics = {{"val_accuracy", 0.5}};
  f.checkpoint = (fs::path(f.run) / "best.safetensors").string();
  io::save_checkpoint(f.checkpoint, *model, meta);

  std::vector<EpochRecord> h;
  for (int e = 1; e <= 3; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.loss = 1.1 - 0.2 * e;
    r.accuracy = 0.3 + 0.15 * e;
    r.val_loss = 1.0 - 0.1 * e;
    r.val_accuracy = 0.35 + 0.1 * e;
    r.lr = 1e-3;
    r.seconds = 2.0;
    h.push_back(r);
  }
  write_history_csv((fs::path(f.run) / "history.csv").string(), h);

  TrainConfig cfg;
  cfg.data = f.data;
  cfg.out = f.run;
  cfg.arch = "vgg11";
  cfg.batch_norm = true;
  cfg.width = mc.width;
  cfg.size = 64;
  cfg.channels = 1;
  cfg.head = "gap";
  cfg.epochs = 3;
  cfg.init = "<b>weights</b>.safetensors";  // config strings are escaped too
  cxr::write_file_atomic((fs::path(f.run) / "config.json").string(), nlohmann::json(cfg).dump(2) + "\n");
  return f;
}

}  // namespace cxr::report_test
