// cxr info FILE...: what each file is. Images: format, stored size, channels, bit depth, PIL mode,
// progressive/interlaced, EXIF orientation (header only, nothing decoded). Safetensors checkpoints: the
// checkpoint's own summary (io/checkpoint.h). Unreadable files get one error line each on stderr naming
// the file; the others are still described, and the exit code is 1 if any failed.
//
//   cxr info scan.png xray.jpg model.safetensors
//   cxr info --json *.png
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/image.h"

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

std::string describe(const std::string& path, const cxr::io::ImageInfo& i) {
  std::string s = cxr::str(path, ": ", i.format, " ", i.width, " x ", i.height, ", ", i.channels,
                           i.channels == 1 ? " channel" : " channels", ", ", i.bit_depth, "-bit, mode ", i.mode);
  if (i.progressive) s += ", progressive";
  if (i.interlaced) s += ", interlaced";
  if (i.exif_orientation != 1)
    s += cxr::str(", EXIF orientation ", i.exif_orientation, " (", orientation_text(i.exif_orientation), ")");
  return s;
}

json image_json(const std::string& path, const cxr::io::ImageInfo& i) {
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

void run_info(const std::vector<std::string>& files, bool as_json) {
  json all = json::array();
  int failed = 0;
  for (const auto& path : files) {
    try {
      if (looks_like_safetensors(path)) {
        if (as_json)
          all.push_back(checkpoint_json(path));
        else
          std::cout << cxr::io::describe_checkpoint(path) << std::flush;
        continue;
      }
      cxr::io::ImageInfo info = cxr::io::probe_image(path);
      if (as_json)
        all.push_back(image_json(path, info));
      else
        std::cout << describe(path, info) << "\n" << std::flush;
    } catch (const std::exception& e) {
      // Messages from io/ already start with the path; anything else gets it prepended.
      std::string msg = e.what();
      if (msg.rfind(path, 0) != 0) msg = path + ": " + msg;
      std::cerr << "cxr info: error: " << msg << "\n" << std::flush;
      if (as_json) all.push_back({{"file", path}, {"error", msg}});
      ++failed;
    }
  }
  if (as_json) std::cout << all.dump(1) << "\n" << std::flush;
  if (failed)
    throw cxr::Error(cxr::str(failed, " of ", files.size(), files.size() == 1 ? " file" : " files",
                              " could not be read"));
}

cxr::cli::Register reg{"info", "Describe images (format, size, mode) and checkpoints", 10, [](CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto as_json = std::make_shared<bool>(false);
  app.add_option("files", *files, "Image (PNG, JPEG) or checkpoint (safetensors) files")->required();
  app.add_flag("--json", *as_json, "Print a JSON array, one object per file");
  app.callback([files, as_json] { run_info(*files, *as_json); });
}};

}  // namespace
