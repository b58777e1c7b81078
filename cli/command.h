// The cxr command line: one file per subcommand (cli/cmd_<name>.cpp), each registering itself here.
//
//   static cxr::cli::Register reg{"info", "Describe images and checkpoints", 10, [](CLI::App& app) {
//     auto* files = ...; app.callback([=] { ...; });
//   }};
//
// A callback reports failure by throwing (cxr::Error for bad input or runtime trouble): main() prints
// "cxr <command>: error: <message>" on one line and exits 1. Usage errors exit 2 with the usage.
// Exit codes: 0 ok, 1 runtime error, 2 usage error.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace cxr::cli {

struct Command {
  std::string name;
  std::string help;
  int order;                               // position in `cxr --help`
  std::function<void(CLI::App&)> setup;    // adds options and the callback to the subcommand
};

std::vector<Command>& commands();

struct Register {
  Register(std::string name, std::string help, int order, std::function<void(CLI::App&)> setup) {
    commands().push_back({std::move(name), std::move(help), order, std::move(setup)});
  }
};

// --arch and --normalize: what a checkpoint without cxr metadata (e.g. converted torchvision weights) is
// and how its input is normalised, for every command that opens a model (io/model_file.h).
inline void add_external_model_options(CLI::App& app, std::string& arch, std::string& normalize) {
  app.add_option("--arch", arch, "Architecture of a checkpoint without cxr metadata, e.g. vgg16_bn");
  app.add_option("--normalize", normalize, "Input normalisation of a checkpoint without cxr metadata: none | "
                                           "imagenet | half (default none; cxr checkpoints record their own)")
      ->check(CLI::IsMember({"none", "imagenet", "half"}));
}

// True when stdout is a terminal (progress bars redraw in place; otherwise plain periodic lines).
bool stdout_is_tty();

}  // namespace cxr::cli
