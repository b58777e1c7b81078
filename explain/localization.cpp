#include "explain/localization.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/strings.h"
#include "data/dataset.h"
#include "image/image.h"
#include "image/transform.h"

namespace fs = std::filesystem;

namespace cxr {

int default_pointing_tolerance(int64_t size) {
  return std::max(1, static_cast<int>(std::lround(15.0 * static_cast<double>(size) / 224.0)));
}

static void check_map_mask(const Tensor& map, const Tensor& mask, const char* what) {
  CXR_CHECK(map.defined() && map.dim() == 2, what, ": map must be [H, W], got ",
            map.defined() ? to_string(map.shape()) : "undefined");
  CXR_CHECK(mask.defined() && mask.shape() == map.shape(), what, ": mask ",
            mask.defined() ? to_string(mask.shape()) : "undefined", " must have the map's shape ",
            to_string(map.shape()));
}

PointingResult pointing_game(const Tensor& map, const Tensor& mask, int tolerance) {
  check_map_mask(map, mask, "pointing_game");
  const int64_t H = map.size(0), W = map.size(1);
  if (tolerance < 0) tolerance = default_pointing_tolerance(std::max(H, W));
  PointingResult r;
  r.distance = std::numeric_limits<double>::infinity();
  bool any = false;
  for (int64_t i = 0; i < mask.numel(); ++i) any = any || mask[i] != 0.0f;
  if (!any) return r;
  r.scored = true;
  int64_t best = -1;
  float lo = INFINITY;
  for (int64_t i = 0; i < map.numel(); ++i) {
    if (!std::isfinite(map[i])) return r;  // a miss
    lo = std::min(lo, map[i]);
    if (best < 0 || map[i] > map[best]) best = i;
  }
  if (!(map[best] > lo)) return r;  // constant: a miss
  r.y = best / W;
  r.x = best % W;
  double d2 = std::numeric_limits<double>::infinity();
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      if (mask[y * W + x] != 0.0f) d2 = std::min(d2, double((y - r.y) * (y - r.y) + (x - r.x) * (x - r.x)));
  r.distance = std::sqrt(d2);
  r.hit = r.distance <= static_cast<double>(tolerance);
  return r;
}

double energy_share(const Tensor& map, const Tensor& mask) {
  check_map_mask(map, mask, "energy_share");
  double inside = 0.0, total = 0.0;
  bool any = false;
  for (int64_t i = 0; i < map.numel(); ++i) {
    const bool in = mask[i] != 0.0f;
    any = any || in;
    const double v = std::isfinite(map[i]) ? std::max(0.0f, map[i]) : 0.0;
    total += v;
    if (in) inside += v;
  }
  if (!any || !(total > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  return inside / total;
}

Tensor prepare_mask(const Tensor& mask, int64_t height, int64_t width, float threshold) {
  CXR_CHECK(mask.defined() && (mask.dim() == 2 || mask.dim() == 3),
            "prepare_mask: mask must be [H, W] or [C, H, W], got ",
            mask.defined() ? to_string(mask.shape()) : "undefined");
  Tensor chw = mask.dim() == 2 ? mask.reshape({1, mask.size(0), mask.size(1)}) : mask;
  Tensor gray = image::to_gray(chw);
  if (gray.size(1) != height || gray.size(2) != width) gray = image::resize(gray, height, width);
  Tensor out = Tensor::empty({height, width});
  for (int64_t i = 0; i < out.numel(); ++i) out[i] = gray[i] >= threshold ? 1.0f : 0.0f;
  return out;
}

Tensor load_mask(const std::string& path, int64_t height, int64_t width, float threshold) {
  return prepare_mask(image::load_image(path).pixels, height, width, threshold);
}

std::string mask_key(const std::string& filename) {
  std::string stem = fs::path(filename).stem().string();
  if (stem.size() > 5) {
    const std::string tail = lower(stem.substr(stem.size() - 5));
    if (tail == "_mask" || tail == "-mask") stem.resize(stem.size() - 5);
  }
  return stem;
}

MaskFolder::MaskFolder(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  CXR_CHECK(fs::is_directory(dir, ec), dir, ": not a folder (--masks wants a folder of mask images)");
  std::vector<std::string> files;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && data::is_image_filename(name)) files.push_back(it->path().string());
  }
  CXR_CHECK(!ec, dir, ": cannot list folder: ", ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) by_key_[mask_key(f)].push_back(f);
  count_ = files.size();
}

// Folder names above a file, innermost first.
static std::vector<std::string> folders_up(const fs::path& p) {
  std::vector<std::string> out;
  for (fs::path d = p.parent_path(); !d.empty() && d.has_filename(); d = d.parent_path())
    out.push_back(d.filename().string());
  return out;
}

std::string MaskFolder::find(const std::string& image_path, bool* ambiguous) const {
  if (ambiguous) *ambiguous = false;
  auto it = by_key_.find(mask_key(image_path));
  if (it == by_key_.end()) return "";
  if (it->second.size() == 1) return it->second[0];
  const std::vector<std::string> img = folders_up(image_path);
  std::vector<size_t> shared;
  for (const std::string& cand : it->second) {
    // Only the part below the mask folder counts (the folder's own path says nothing about the image).
    const std::vector<std::string> c = folders_up(fs::path(cand).lexically_relative(dir_));
    size_t s = 0;
    while (s < img.size() && s < c.size() && img[s] == c[s]) ++s;
    shared.push_back(s);
  }
  const size_t top = *std::max_element(shared.begin(), shared.end());
  if (std::count(shared.begin(), shared.end(), top) != 1) {
    if (ambiguous) *ambiguous = true;
    return "";
  }
  const std::string& best =
      it->second[static_cast<size_t>(std::find(shared.begin(), shared.end(), top) - shared.begin())];
  return best;
}

}  // namespace cxr
