// cxr summary: a Keras-style table of a model's layers (torch name + alias, type, output shape, parameters,
// multiply-accumulates) with totals, for an architecture given by options.
//
//   cxr summary --arch vgg16 --bn --width 0.25 --size 128 --channels 1 --classes 3 --head gap
//   cxr summary --arch vgg16_bn --json
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "models/model.h"
#include "models/summary.h"

namespace {

struct SummaryOptions {
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
  cxr::ModelConfig c = cxr::config_from_name(o.arch);
  c.batch_norm = c.batch_norm || o.bn;
  c.width = o.width;
  c.input_size = o.size;
  c.in_channels = o.channels;
  c.num_classes = o.classes;
  c.head = o.head;
  std::shared_ptr<cxr::Model> model = cxr::make_model(c);
  cxr::ModelSummary s = cxr::summarize(*model);
  if (o.json)
    std::cout << cxr::summary_json(s).dump(1) << "\n";
  else
    std::cout << cxr::format_summary(s);
}

cxr::cli::Register reg{"summary", "Print a model's layers, output shapes, parameters and MACs", 60, [](CLI::App& app) {
  auto o = std::make_shared<SummaryOptions>();
  app.add_option("--arch", o->arch, "vgg11 | vgg13 | vgg16 | vgg19 | seedcnn, each also as <arch>_bn")
      ->capture_default_str();
  app.add_flag("--bn", o->bn, "With batch normalisation after every convolution");
  app.add_option("--width", o->width, "Channel multiplier (hidden FC widths scale too; 1 = torchvision)")
      ->capture_default_str();
  app.add_option("--size", o->size, "Input side in pixels (a multiple of 32)")->capture_default_str();
  app.add_option("--channels", o->channels, "Input channels: 1 (grey) or 3")->capture_default_str();
  app.add_option("--classes", o->classes, "Number of output classes")->capture_default_str();
  app.add_option("--head", o->head, "torchvision | gap | gap256")->capture_default_str();
  app.add_flag("--json", o->json, "Print JSON instead of the table");
  app.callback([o] { run_summary(*o); });
}};

}  // namespace
