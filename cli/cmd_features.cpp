// cxr features: what each channel of a layer responds to, for one image: one grid PNG per layer with every
// channel's activation (each min-max normalised on its own), up to --max-channels per grid.
//
//   cxr features --model best.safetensors --image scan.png --out feats/                 (each block's last ReLU)
//   cxr features --model best.safetensors --image scan.png --layers conv1_1,relu5_3 --out feats/
//   cxr features --model best.safetensors --image scan.png --layers all --out feats/
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "data/loader.h"
#include "explain/features_grid.h"
#include "image/image.h"
#include "io/model_file.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  std::string model, arch, normalize, image, layers, out, colormap = "gray";
  std::vector<std::string> external_classes;  // --classes of a checkpoint without metadata
  int max_channels = 64, min_cell = 32;
};

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_option("--image", o->image, "Image file (PNG or JPEG)")->required();
  app.add_option("--layers", o->layers, "Comma-separated layer names or aliases, or all (default: the last ReLU "
                                        "of each conv block)");
  app.add_option("--max-channels", o->max_channels, "Channels per grid (the first ones)")->capture_default_str()
      ->check(cxr::cli::at_least(1));
  app.add_option("--cell", o->min_cell, "Minimum cell size in pixels")->capture_default_str();
  app.add_option("--colormap", o->colormap, "jet | turbo | inferno | gray")->capture_default_str()
      ->check(cxr::cli::parsed_by(cxr::parse_colormap));
  app.add_option("--out", o->out, "Output folder")->required();
  app.callback([o] {
    cxr::GridOptions go;
    go.max_channels = o->max_channels;
    go.min_cell = std::max(1, o->min_cell);
    go.colormap = cxr::parse_colormap(o->colormap);
    cxr::io::LoadedModel lm = cxr::io::load_model_file(o->model, o->arch, o->normalize, o->external_classes);
    const auto& mc = lm.meta.model;
    std::vector<cxr::LayerInfo> layers =
        cxr::cli::option_value("--layers", [&] { return cxr::feature_layers(*lm.model, o->layers); });
    cxr::image::Image img = cxr::image::load_image(o->image);
    cxr::Tensor x = cxr::data::preprocess_image(img.pixels, mc.input_size, mc.in_channels, lm.norm);
    std::vector<cxr::Tensor> acts =
        cxr::layer_activations(*lm.model, x.reshape({1, x.size(0), x.size(1), x.size(2)}), layers);
    fs::create_directories(o->out);
    const std::string stem = fs::path(o->image).stem().string();
    std::printf("%-28s %-16s %-10s %s\n", "layer", "activation", "channels", "file");
    for (size_t i = 0; i < layers.size(); ++i) {
      std::string lname = layers[i].alias.empty() ? layers[i].name : layers[i].alias;
      for (char& c : lname)
        if (c == '.') c = '_';
      const std::string file = (fs::path(o->out) / (stem + "_" + lname + ".png")).string();
      cxr::image::save_png(file, cxr::channel_grid(acts[i], go));
      const int64_t shown = cxr::grid_channels(acts[i].size(0), go);
      std::printf("%-28s %-16s %-10s %s\n", cxr::display_name(layers[i]).c_str(),
                  cxr::to_string(acts[i].shape()).c_str(),
                  cxr::str(shown, "/", acts[i].size(0)).c_str(), file.c_str());
    }
  });
}

cxr::cli::Register reg{"features", "Channel activation grids of chosen layers for one image", 61, setup};

}  // namespace
