// cxr summary: a Keras-style table of a model's layers (torch name + alias, type, output shape, parameters,
// multiply-accumulates) with totals, for an architecture given by options or the model of a checkpoint.
//
//   cxr summary --arch vgg16 --bn --width 0.25 --size 128 --channels 1 --classes 3 --head gap
//   cxr summary --arch vgg16_bn --json
//   cxr summary --model runs/a/best.safetensors [--size 256]
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "io/checkpoint.h"
#include "models/model.h"
#include "models/summary.h"

namespace {

struct SummaryOptions {
  std::string model;  // checkpoint: its metadata gives the config
  bool size_given = false;
  std::string arch = "vgg16";
  bool bn = false;
  float width = 1.0f;
  int size = 224;
  int channels = 3;
  int classes = 3;
  std::string head = "torchvision";
  bool json = false;
};

void run_summary(const SummaryOptions& o) {
  cxr::ModelConfig c;
  cxr::io::CheckpointMeta meta;
  if (!o.model.empty()) {
    // Only the header is read: the summary needs the architecture, not the weights.
    meta = cxr::io::read_checkpoint_meta(o.model);
    CXR_CHECK(meta.found, o.model, ": the checkpoint has no cxr metadata (e.g. weights converted from PyTorch), ",
              "so its architecture is unknown; describe it with --arch/--bn/--width/--classes instead");
    c = meta.model;
  } else {
    c = cxr::config_from_name(o.arch);
    c.batch_norm = c.batch_norm || o.bn;
    c.width = o.width;
    c.in_channels = o.channels;
    c.num_classes = o.classes;
    c.head = o.head;
    c.input_size = o.size;
  }
  // --size with a checkpoint: summarise for another input size (VGG's adaptive pool takes any multiple of 32).
  if (o.size_given) c.input_size = o.size;
  std::shared_ptr<cxr::Model> model = cxr::make_model(c);
  cxr::ModelSummary s = cxr::summarize(*model, c.input_size, c.input_size);
  if (o.json) {
    nlohmann::json j = cxr::summary_json(s);
    if (!o.model.empty()) j["checkpoint"] = {{"path", o.model}, {"classes", meta.classes}};
    std::cout << j.dump(1) << "\n";
    return;
  }
  if (!o.model.empty()) {
    std::string classes;
    for (const auto& k : meta.classes) classes += (classes.empty() ? "" : ", ") + k;
    std::cout << "Checkpoint: " << o.model << "\n";
    if (!classes.empty()) std::cout << "Classes: " << classes << "\n";
  }
  std::cout << cxr::format_summary(s);
}

cxr::cli::Register reg{"summary", "Print a model's layers, output shapes, parameters and MACs", 55, [](CLI::App& app) {
  auto o = std::make_shared<SummaryOptions>();
  // A missing checkpoint is a runtime error (exit 1, as for every command), found when it is read.
  auto* model = app.add_option("--model", o->model, "A checkpoint: summarise the model its metadata describes");
  std::vector<CLI::Option*> arch_opts = {
      app.add_option("--arch", o->arch, "vgg11 | vgg13 | vgg16 | vgg19 | seedcnn, each also as <arch>_bn")
          ->capture_default_str()->check(cxr::cli::known_model_name()),
      app.add_flag("--bn", o->bn, "With batch normalisation after every convolution"),
      app.add_option("--width", o->width, "Channel multiplier (hidden FC widths scale too; 1 = torchvision)")
          ->capture_default_str()->check(CLI::Range(0.001, 8.0)),
      app.add_option("--channels", o->channels, "Input channels: 1 (grey) or 3")->capture_default_str(),
      app.add_option("--classes", o->classes, "Number of output classes")->capture_default_str(),
      app.add_option("--head", o->head, "torchvision | gap | gap256")->capture_default_str()};
  for (auto* a : arch_opts) model->excludes(a);
  auto* size = app.add_option("--size", o->size, "Input side in pixels (a multiple of 32; with --model: the "
                                                  "checkpoint's unless given)")
                   ->capture_default_str()->check(cxr::cli::multiple_of_32());
  app.add_flag("--json", o->json, "Print JSON instead of the table");
  app.callback([o, size] {
    o->size_given = size->count() > 0;
    run_summary(*o);
  });
}};

}  // namespace
