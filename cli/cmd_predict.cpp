// cxr predict: class probabilities and the predicted label for each image (files, folders of images,
// class-folder datasets or manifests, as cxr explain takes them). Under mpirun the images are shared out
// over the ranks and rank 0 prints what one process prints.
//
//   cxr predict --model runs/synth/best.safetensors scan1.png scan2.jpg [--json]
//   cxr predict --model runs/synth/best.safetensors scans/
//
// The probabilities are softmax(logits / T) with the checkpoint's stored temperature T (cxr eval
// --fit-temperature), unless --temperature says none or another value; the predicted label is the same.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/command.h"
#include "core/argmax.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "dist/gather_json.h"
#include "image/image.h"
#include "io/model_file.h"
#include "layers/loss.h"

namespace {

struct Options {
  std::string model, arch, normalize;
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  std::vector<std::string> images;
  bool json = false;
  std::string temperature = "stored";
};

// One image's result: its probabilities as a JSON record, or (a string) why it could not be read.
nlohmann::json predict_one(cxr::io::LoadedModel& lm, const std::string& path, double temperature) {
  const auto& mc = lm.meta.model;
  const auto& classes = lm.meta.classes;
  cxr::Tensor x;
  try {
    cxr::image::Image img = cxr::image::load_image(path);
    x = cxr::data::preprocess_image(img.pixels, mc.input_size, mc.in_channels, lm.norm);
  } catch (const std::exception& e) {
    return e.what();
  }
  cxr::NoGradGuard no_grad;
  cxr::Tensor logits = (*lm.model)(cxr::Variable(x.reshape({1, x.size(0), x.size(1), x.size(2)}))).data();
  if (temperature > 0)
    for (int64_t k = 0; k < logits.numel(); ++k) logits.data()[k] = static_cast<float>(logits.data()[k] / temperature);
  cxr::Tensor p = cxr::softmax(logits);
  nlohmann::json j = {{"file", path}, {"predicted", classes[cxr::argmax(p.data(), p.numel())]}};
  if (temperature > 0) j["temperature"] = temperature;
  for (size_t k = 0; k < classes.size(); ++k) j["probabilities"][classes[k]] = p[k];
  return j;
}

// Prints results as they come: a table row (the header with the first one) or, with --json, nothing until
// the end; errors to stderr.
struct Printer {
  const Options& o;
  const std::vector<std::string>& classes;
  int width = 5;  // the image column fits the longest path, so the numbers line up
  bool header = false;
  int failed = 0;
  nlohmann::json out = nlohmann::json::array();

  void print(const nlohmann::json& r) {
    if (r.is_string()) {
      std::fprintf(stderr, "cxr predict: error: %s\n", r.get<std::string>().c_str());
      ++failed;
    } else if (o.json) {
      out.push_back(r);
    } else {
      if (!header) {  // printed with the first result, not above a list of errors only
        std::printf("%-*s %-12s", width, "image", "predicted");
        for (const auto& c : classes) std::printf(" %10.10s", c.c_str());
        std::printf("\n");
        header = true;
      }
      std::printf("%-*s %-12s", width, r["file"].get<std::string>().c_str(), r["predicted"].get<std::string>().c_str());
      for (const auto& c : classes) {  // JSON has no NaN: a non-finite probability comes back as null
        const auto& v = r["probabilities"][c];
        std::printf(" %10.4f", v.is_null() ? NAN : v.get<float>());
      }
      std::printf("\n");
    }
  }
};

// Under mpirun each rank predicts a contiguous share of the images and rank 0 prints every result in input
// order, as one process prints them (each image is its own forward, so the numbers are the same bytes).
void run(const Options& o) {
  cxr::io::LoadedModel lm = cxr::io::load_model_file(o.model, o.arch, o.normalize, o.external_classes);
  std::vector<std::string> paths;
  // A missing file is reported with the unreadable ones, below; the others are still predicted.
  for (const auto& item : cxr::data::expand_image_inputs(o.images, true)) paths.push_back(item.path);
  // --temperature: stored (the checkpoint's, if any), none, or a value; 0 here is none.
  const cxr::cli::TemperatureChoice tc = cxr::cli::parse_temperature(o.temperature);
  const double temperature = tc.kind == cxr::cli::TemperatureChoice::Kind::value ? tc.value
                             : tc.kind == cxr::cli::TemperatureChoice::Kind::none ? 0
                                                                                    : lm.meta.temperature;
  Printer printer{o, lm.meta.classes};
  for (const auto& p : paths) printer.width = std::max(printer.width, static_cast<int>(p.size()));
  cxr::dist::Comm& comm = cxr::dist::world();
  if (comm.size() == 1) {
    for (const auto& path : paths) printer.print(predict_one(lm, path, temperature));
  } else {
    const cxr::dist::Range mine = cxr::dist::share(static_cast<int64_t>(paths.size()), comm.rank(), comm.size());
    nlohmann::json results = nlohmann::json::array();
    for (int64_t i = mine.begin; i < mine.end; ++i) results.push_back(predict_one(lm, paths[static_cast<size_t>(i)], temperature));
    for (const auto& r : cxr::dist::gather_arrays(comm, results)) printer.print(r);
    printer.failed = static_cast<int>(cxr::dist::sum_over_ranks(comm, printer.failed));
  }
  if (o.json && comm.is_root()) std::printf("%s\n", printer.out.dump(2).c_str());
  if (!o.json && comm.is_root() && printer.header && temperature > 0)
    std::printf("probabilities scaled by temperature T = %.4f (%s)\n", temperature,
                tc.kind == cxr::cli::TemperatureChoice::Kind::value ? "--temperature" : "stored in the checkpoint");
  if (printer.failed)  // the same count on every rank
    throw cxr::dist::AllRanksError(cxr::str(printer.failed, " of ", paths.size(), " images could not be read"));
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_flag("--json", o->json, "Print JSON instead of a table");
  cxr::cli::add_temperature_option(app, o->temperature);
  app.add_option("images", o->images, "Image files (PNG or JPEG), folders of them (searched recursively), or "
                                     "CSV manifests")->required();
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"predict", "Class probabilities and predicted label for images", 50, setup, cxr::cli::Ranks::shared};

}  // namespace
