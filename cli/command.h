// The cxr command line: one file per subcommand (cli/cmd_<name>.cpp), each registering itself here.
//
//   static cxr::cli::Register reg{"info", "Describe images and checkpoints", 10, [](CLI::App& app) {
//     auto* files = ...; app.callback([=] { ...; });
//   }};
//
// A callback reports failure by throwing (cxr::Error for bad input or runtime trouble): main() prints
// "cxr <command>: error: <message>" on one line and exits 1. Usage errors exit 2 with the usage.
// Exit codes: 0 ok, 1 runtime error, 2 usage error:
//   2  an argument that is wrong in itself: an unknown name (method, class, layer, colormap, split), a
//      number out of range, options that do not go together. Whether CLI11 finds it while parsing (the
//      checks on the options below) or the command once it has opened what the argument refers to (a
//      --class or --layer that the model does not have: option_value), it is the same mistake.
//   1  what the arguments name fails: a missing or unreadable file, data that do not fit the model, a
//      run that cannot go on.
#pragma once
#include <CLI/CLI.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/dataset.h"
#include "explain/cam.h"

namespace cxr::cli {

// Under mpirun, a command either shares its work out over the ranks (rank 0 alone prints and writes the
// shared files) or refuses to run: N copies of it would do the same work N times and write the same files.
enum class Ranks { one, shared };

// Whether the command takes the common `--threads N` after its name (main.cpp adds it and sets the thread
// count from it), or defines its own --threads (`cxr bench --threads 1,2,4` runs at each count in turn;
// `cxr --threads N bench` still sets the count the command starts with).
enum class ThreadsOption { common, own };

// Whether the command runs a model and so takes the common `--conv auto|im2col|winograd` (main.cpp adds it
// and sets the process-wide choice of layers/conv_algo.h from it before the command runs).
enum class ConvOption { common, none };

struct Command {
  std::string name;
  std::string help;
  int order;                               // position in `cxr --help`
  std::function<void(CLI::App&)> setup;    // adds options and the callback to the subcommand
  Ranks ranks = Ranks::one;                // what it does under `mpirun -np N`
  ThreadsOption threads = ThreadsOption::common;
  ConvOption conv = ConvOption::common;
};

std::vector<Command>& commands();

struct Register {
  Register(std::string name, std::string help, int order, std::function<void(CLI::App&)> setup,
           Ranks ranks = Ranks::one, ThreadsOption threads = ThreadsOption::common,
           ConvOption conv = ConvOption::common) {
    commands().push_back({std::move(name), std::move(help), order, std::move(setup), ranks, threads, conv});
  }
};

// A CLI11 transformer that parses a value into an enum with `parse` (which throws cxr::Error naming the known
// values): CLI11 then stores the enum, and a bad value is a usage error (exit 2) with parse's message.
template <typename Enum, typename Parse>
CLI::Validator enum_transformer(Parse parse) {
  return CLI::Validator(
      [parse](std::string& v) -> std::string {
        try {
          v = std::to_string(static_cast<int>(static_cast<Enum>(parse(v))));
          return "";
        } catch (const cxr::Error& e) {
          return e.what();
        }
      },
      "");
}

// A check that accepts the values `parse` accepts (parse throws cxr::Error naming the known ones), for a
// name option kept as text: a bad value is a usage error with parse's message.
template <typename Parse>
CLI::Validator parsed_by(Parse parse) {
  return CLI::Validator(
      [parse](const std::string& v) -> std::string {
        try {
          parse(v);
          return "";
        } catch (const cxr::Error& e) {
          return e.what();
        }
      },
      "");
}

// For an argument that can only be checked once the command has opened what it refers to (a --class or
// --layer against the model's): returns check(), with the cxr::Error it throws turned into a usage error
// (exit 2) of `option` (none: the message names it). Internal errors stay what they are.
template <typename Check>
decltype(auto) option_value(const std::string& option, Check&& check) {
  try {
    return check();
  } catch (const cxr::InternalError&) {
    throw;
  } catch (const cxr::Error& e) {
    if (option.empty()) throw CLI::ValidationError(e.what());
    throw CLI::ValidationError(option, e.what());
  }
}

// Options that do not go together, found by the command: a usage error (exit 2) naming the option.
inline void usage_check(bool ok, const std::string& option, const std::string& why) {
  if (!ok) throw CLI::ValidationError(option, why);
}

// --method, parsed once here into the enum the explain library takes: any name parse_method knows (any
// case, aliases such as grad-cam++), else a usage error listing them. The help lists the names.
inline CLI::Option* add_method_option(CLI::App& app, cxr::CamMethod& method, const std::string& help) {
  return app.add_option("--method", method, help + ": " + cxr::join(cxr::method_names(), " | "))
      ->transform(enum_transformer<cxr::CamMethod>(cxr::parse_method))
      ->type_name("TEXT")
      ->default_str(cxr::method_name(method));
}

// --fuse: how the maps of several layers combine (max | sum, any case).
inline CLI::Option* add_fuse_option(CLI::App& app, cxr::FuseMode& fuse) {
  return app.add_option("--fuse", fuse, "Combining several layers: max | sum")
      ->transform(enum_transformer<cxr::FuseMode>(cxr::parse_fuse))
      ->type_name("TEXT")
      ->default_str(cxr::fuse_name(fuse));
}

// --arch, --normalize and --classes: what a checkpoint without cxr metadata (e.g. converted torchvision
// weights) is, how its input is normalised and what its outputs are called, for every command that opens
// a model (io/model_file.h).
inline void add_external_model_options(CLI::App& app, std::string& arch, std::string& normalize,
                                       std::vector<std::string>& classes) {
  app.add_option("--arch", arch, "Architecture of a checkpoint without cxr metadata, e.g. vgg16_bn");
  app.add_option("--normalize", normalize, "Input normalisation of a checkpoint without cxr metadata: none | "
                                           "imagenet | half (default none; cxr checkpoints record their own)")
      ->check(CLI::IsMember({"none", "imagenet", "half"}));
  app.add_option("--classes", classes, "Class names of a checkpoint without cxr metadata, in output order, "
                                       "e.g. COVID19,NORMAL,PNEUMONIA (default class0, class1, ...)")
      ->delimiter(',')
      ->allow_extra_args(false);  // one comma-separated value: the words after it are images, not classes
}

// A number >= lowest, with a plain message ("--batch: -3 is below 1"; CLI11's Range / PositiveNumber name
// their upper bound, 1.8e308 for a double).
inline CLI::Validator at_least(double lowest) {
  return CLI::Validator(
      [lowest](const std::string& v) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(v, x)) return "'" + v + "' is not a number";
        if (x >= lowest) return "";
        return v + " is below " + cxr::str(lowest);
      },
      cxr::str(">= ", lowest));
}

// --temperature of eval and predict: which temperature scales the probabilities shown (train/calibration.h).
struct TemperatureChoice {
  enum class Kind { stored, none, value } kind = Kind::stored;
  double value = 0;  // for Kind::value: finite and > 0
};
inline TemperatureChoice parse_temperature(const std::string& v) {
  if (v == "stored") return {};
  if (v == "none") return {TemperatureChoice::Kind::none, 0};
  double t = 0;
  if (!CLI::detail::lexical_cast(v, t) || !std::isfinite(t) || t <= 0)
    throw cxr::Error(cxr::str("'", v, "' is not stored, none or a temperature > 0"));
  return {TemperatureChoice::Kind::value, t};
}
inline CLI::Option* add_temperature_option(CLI::App& app, std::string& text) {
  return app.add_option("--temperature", text, "Temperature scaling of the probabilities shown: stored (the "
                                              "checkpoint's, from cxr eval --fit-temperature; none stored: 1), "
                                              "none, or a value T > 0 (softmax(logits / T); argmax unchanged)")
      ->capture_default_str()->check(parsed_by([](const std::string& v) { return parse_temperature(v); }));
}

// v as a whole number, when all of it is one (the validators below read their values through it).
inline std::optional<long> whole_number(const std::string& v) {
  try {
    size_t used = 0;
    const long n = std::stol(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// --size of a VGG input: a multiple of 32, since the network halves it five times. A usage error (exit 2)
// that names the option, found before any data is read.
inline CLI::Validator multiple_of_32() {
  return CLI::Validator(
      [](const std::string& v) -> std::string {
        const std::optional<long> n = whole_number(v);
        if (n && *n >= 32 && *n % 32 == 0) return "";
        return v + " is not a multiple of 32 (the network halves it 5 times), e.g. 128, 224, 256";
      },
      "MULTIPLE OF 32");
}

// --threads: a whole number >= 0 (0: the default).
inline CLI::Validator thread_count() {
  return CLI::Validator(
      [](const std::string& v) -> std::string {
        const std::optional<long> n = whole_number(v);
        if (n && *n >= 0 && *n <= std::numeric_limits<int>::max()) return "";  // read back as an int
        return "'" + v + "' is not a thread count: a whole number, 0 for the default";
      },
      "NONNEGATIVE");
}

// --split of the evaluating commands, as a transform: the value becomes its normal form (data::split_argument),
// and one that is no split is a usage error.
inline CLI::Validator split_name() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string n = cxr::data::split_argument(v);
        if (n.empty()) return "'" + v + "' is not a split: use test, val, train, all or auto";
        v = n;
        return "";
      },
      "");
}

// --arch of a model to build: vgg11 | vgg13 | vgg16 | vgg19 | seedcnn, or <arch>_bn (cxr::config_from_name).
CLI::Validator known_model_name();

// True when stdout is a terminal (progress bars redraw in place; otherwise plain periodic lines).
bool stdout_is_tty();

}  // namespace cxr::cli
