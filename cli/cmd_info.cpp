// cxr info FILE|DIR|MANIFEST...: what each file is. Images: format, stored size, channels, bit depth, PIL
// mode, progressive/interlaced, EXIF orientation (header only, nothing decoded); a header whose size is over
// the decode limits (image/image.h DecodeLimits) is an error, since no command could read that image.
// Safetensors checkpoints: the checkpoint's own summary (io/checkpoint.h). --check also decodes every file
// in full (every pixel, every tensor), which finds what a header cannot show: a file cut short after its
// header, corrupt compressed data. A folder or manifest stands for its images. Unreadable files get one
// error line each on stderr naming the file; the others are still described, and the exit code is 1 if
// any failed.
//
//   cxr info scan.png xray.jpg model.safetensors
//   cxr info --json *.png
//   cxr info --check data/cxr-real/manifest.csv     (vet a dataset before a long run)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "data/dataset.h"
#include "image/image.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

namespace {

using nlohmann::json;

// safetensors: an 8-byte little-endian header length, then the JSON header, which starts with '{'.
bool looks_like_safetensors(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char b[9] = {};
  size_t got = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  if (got < sizeof b || b[8] != '{') return false;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
  return n >= 2 && n < (uint64_t{1} << 32);
}

std::string orientation_text(int o) {
  static const char* names[9] = {"", "as stored", "mirrored", "rotated 180", "flipped vertically",
                                 "transposed", "rotate 90 clockwise", "transverse", "rotate 90 counter-clockwise"};
  return o >= 1 && o <= 8 ? names[o] : "invalid";
}

std::string describe(const std::string& path, const cxr::image::ImageInfo& i) {
  std::string s = cxr::str(path, ": ", i.format, " ", i.width, " x ", i.height, ", ", i.channels,
                           i.channels == 1 ? " channel" : " channels", ", ", i.bit_depth, "-bit, mode ", i.mode);
  if (i.progressive) s += ", progressive";
  if (i.interlaced) s += ", interlaced";
  if (i.exif_orientation != 1)
    s += cxr::str(", EXIF orientation ", i.exif_orientation, " (", orientation_text(i.exif_orientation), ")");
  return s;
}

json image_json(const std::string& path, const cxr::image::ImageInfo& i) {
  return {{"file", path},          {"kind", "image"},           {"format", i.format},
          {"width", i.width},      {"height", i.height},        {"channels", i.channels},
          {"bit_depth", i.bit_depth}, {"mode", i.mode},         {"progressive", i.progressive},
          {"interlaced", i.interlaced}, {"exif_orientation", i.exif_orientation}};
}

json checkpoint_json(const std::string& path) {
  cxr::io::CheckpointInfo c = cxr::io::read_checkpoint_info(path);
  json j = {{"file", path},
            {"kind", "checkpoint"},
            {"format", "safetensors"},
            {"file_bytes", c.file_bytes},
            {"tensors", c.tensor_count},
            {"parameters", c.parameter_count},
            {"buffers", c.buffer_count},
            {"dtypes", c.dtypes},
            {"metadata", c.metadata}};
  if (c.has_meta) j["meta"] = cxr::io::meta_to_json(c.meta);
  return j;
}

// A header that asks for more pixels than any command will decode.
void check_limits(const std::string& path, const cxr::image::ImageInfo& i) {
  const cxr::image::DecodeLimits limits;
  const int64_t w = i.width, h = i.height;
  CXR_CHECK(w <= limits.max_side && h <= limits.max_side, path, ": the header says ", w, " x ", h,
            " pixels, over the decode limit of ", limits.max_side, " pixels per side: cxr will not decode it");
  CXR_CHECK(w * h <= limits.max_pixels, path, ": the header says ", w, " x ", h, " = ", w * h,
            " pixels, over the decode limit of ", limits.max_pixels, ": cxr will not decode it");
}

// The arguments as files: a folder or a CSV manifest stands for its images (data::expand_image_inputs).
std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  for (const auto& a : args) {
    const bool manifest = a.size() > 4 && a.compare(a.size() - 4, 4, ".csv") == 0;
    if (!std::filesystem::is_directory(a) && !manifest) {
      files.push_back(a);
      continue;
    }
    for (const auto& img : cxr::data::expand_image_inputs({a}, true)) files.push_back(img.path);
  }
  return files;
}

void run_info(const std::vector<std::string>& args, bool as_json, bool check) {
  const std::vector<std::string> files = expand(args);
  json all = json::array();
  int failed = 0;
  for (const auto& path : files) {
    try {
      if (looks_like_safetensors(path)) {
        json j = checkpoint_json(path);  // reads and validates the header
        if (check) cxr::io::load_safetensors(path);  // and now every tensor
        if (check) j["decoded"] = true;
        if (as_json)
          all.push_back(j);
        else
          std::cout << cxr::io::describe_checkpoint(path) << (check ? "  check:       every tensor read\n" : "")
                    << std::flush;
        continue;
      }
      cxr::image::ImageInfo info = cxr::image::probe_image(path);
      check_limits(path, info);
      if (check) cxr::image::load_image(path);
      if (as_json) {
        all.push_back(image_json(path, info));
        if (check) all.back()["decoded"] = true;
      } else {
        std::cout << describe(path, info) << (check ? ", decoded" : "") << "\n" << std::flush;
      }
    } catch (const std::exception& e) {
      // Messages from image/ and io/ already start with the path; anything else gets it prepended.
      std::string msg = e.what();
      if (msg.rfind(path, 0) != 0) msg = path + ": " + msg;
      std::cerr << "cxr info: error: " << msg << "\n" << std::flush;
      if (as_json) all.push_back({{"file", path}, {"error", msg}});
      ++failed;
    }
  }
  if (as_json) std::cout << all.dump(1) << "\n" << std::flush;
  if (check && !as_json)
    std::cout << "Checked " << files.size() << (files.size() == 1 ? " file" : " files") << ": "
              << files.size() - failed << " decoded, " << failed << " could not be read\n" << std::flush;
  if (failed)
    throw cxr::Error(cxr::str(failed, " of ", files.size(), files.size() == 1 ? " file" : " files",
                              " could not be read"));
}

cxr::cli::Register reg{"info", "Describe images (format, size, mode) and checkpoints", 10, [](CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto as_json = std::make_shared<bool>(false);
  auto check = std::make_shared<bool>(false);
  app.add_option("files", *files, "Image (PNG, JPEG) or checkpoint (safetensors) files; a folder or CSV manifest "
                                  "stands for its images")->required();
  app.add_flag("--json", *as_json, "Print a JSON array, one object per file");
  app.add_flag("--check", *check, "Decode every file in full (not only its header): exit 1 naming each file that "
                                  "cannot be read, e.g. one cut short after its header");
  app.callback([files, as_json, check] { run_info(*files, *as_json, *check); });
}, cxr::cli::Ranks::one, cxr::cli::ThreadsOption::common, cxr::cli::ConvOption::none};  // runs no model

}  // namespace
