// cxr predict: class probabilities and the predicted label for each image (files, folders of images,
// class-folder datasets or manifests, as cxr explain takes them).
//
//   cxr predict --model runs/synth/best.safetensors scan1.png scan2.jpg [--json]
//   cxr predict --model runs/synth/best.safetensors scans/
#include <algorithm>
#include <cstdio>

#include "cli/command.h"
#include "core/argmax.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "image/image.h"
#include "io/model_file.h"
#include "layers/loss.h"

namespace {

struct Options {
  std::string model, arch, normalize;
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  std::vector<std::string> images;
  bool json = false;
};

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_flag("--json", o->json, "Print JSON instead of a table");
  app.add_option("images", o->images, "Image files (PNG or JPEG), folders of them (searched recursively), or "
                                     "CSV manifests")->required();
  app.callback([o] {
    cxr::io::LoadedModel lm = cxr::io::load_model_file(o->model, o->arch, o->normalize, o->external_classes);
    const auto& mc = lm.meta.model;
    const auto& classes = lm.meta.classes;
    std::vector<std::string> paths;
    // A missing file is reported with the unreadable ones, below; the others are still predicted.
    for (const auto& item : cxr::data::expand_image_inputs(o->images, true)) paths.push_back(item.path);
    int width = 5;  // the image column fits the longest path, so the numbers line up
    for (const auto& p : paths) width = std::max(width, static_cast<int>(p.size()));
    nlohmann::json out = nlohmann::json::array();
    bool header = false;
    cxr::NoGradGuard no_grad;
    int failed = 0;
    for (const auto& path : paths) {
      cxr::Tensor x;
      try {
        cxr::image::Image img = cxr::image::load_image(path);
        x = cxr::data::preprocess_image(img.pixels, mc.input_size, mc.in_channels, lm.norm);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "cxr predict: error: %s\n", e.what());
        ++failed;
        continue;
      }
      cxr::Tensor logits = (*lm.model)(cxr::Variable(x.reshape({1, x.size(0), x.size(1), x.size(2)}))).data();
      cxr::Tensor p = cxr::softmax(logits);
      int best = cxr::argmax(p.data(), p.numel());
      if (o->json) {
        nlohmann::json j = {{"file", path}, {"predicted", classes[best]}};
        for (size_t k = 0; k < classes.size(); ++k) j["probabilities"][classes[k]] = p[k];
        out.push_back(j);
      } else {
        if (!header) {  // printed with the first result, not above a list of errors only
          std::printf("%-*s %-12s", width, "image", "predicted");
          for (const auto& c : classes) std::printf(" %10.10s", c.c_str());
          std::printf("\n");
          header = true;
        }
        std::printf("%-*s %-12s", width, path.c_str(), classes[best].c_str());
        for (size_t k = 0; k < classes.size(); ++k) std::printf(" %10.4f", p[k]);
        std::printf("\n");
      }
    }
    if (o->json) std::printf("%s\n", out.dump(2).c_str());
    if (failed) throw cxr::Error(cxr::str(failed, " of ", paths.size(), " images could not be read"));
  });
}

cxr::cli::Register reg{"predict", "Class probabilities and predicted label for images", 50, setup};

}  // namespace
