// Localisation: does the map point at the region a radiologist would (a lesion mask, the lungs)?
//
//   pointing game (Zhang et al. 2016, arXiv 1608.00507)  a hit when the map's maximum lies in the mask or
//       within `tolerance` pixels of it (Euclidean distance between pixel centres). Zhang et al. allow 15 px
//       at ~224 px inputs; the default here scales that with the map: round(15 * max(H, W) / 224), at least 1.
//       With several maximal pixels the first in raster order counts (bilinear-upsampled maps rarely tie).
//       A constant or non-finite map has no maximum worth pointing with: a miss. An empty mask: not scored.
//   energy share  sum of max(map, 0) inside the mask / sum of max(map, 0) everywhere (the "energy-based
//       pointing game" of Score-CAM, Wang et al. 2020). 1 = all evidence inside. Undefined (NaN) for an
//       all-zero map or an empty mask: such images are left out of the averages.
//
// Masks: any image (PNG/JPEG, 8 or 16 bit, gray or colour, values in [0, 1] after decoding) is made binary
// at the map's resolution by prepare_mask: to gray, resized to H x W (the same antialiased resize the model
// input gets: the whole image, aspect not kept), then value >= 0.5 -> 1, else 0.
//
// Where masks come from: the manifest columns lung_mask / lesion_mask (what `cxr synth` writes), or a
// folder of mask images matched to the image by file name (MaskFolder).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr {

// round(15 * size / 224), at least 1: Zhang et al.'s 15 px at 224 px, for a map `size` pixels on a side.
int default_pointing_tolerance(int64_t size);

struct PointingResult {
  bool scored = false;  // false: empty mask (nothing to point at)
  bool hit = false;
  int64_t y = -1, x = -1;  // the map's maximum (-1 when the map is constant or non-finite)
  double distance = 0.0;   // from (y, x) to the nearest mask pixel (0 inside; infinity when not scored)
};

// map [H, W], mask [H, W] binary (nonzero = inside). tolerance < 0: default_pointing_tolerance(max(H, W)).
PointingResult pointing_game(const Tensor& map, const Tensor& mask, int tolerance = -1);

// Share of max(map, 0) inside the mask; NaN when the map has no positive value or the mask is empty.
double energy_share(const Tensor& map, const Tensor& mask);

// A decoded mask image [C, H', W'] (or [H', W']) -> binary [height, width] as described above.
Tensor prepare_mask(const Tensor& mask, int64_t height, int64_t width, float threshold = 0.5f);
// load_image + prepare_mask.
Tensor load_mask(const std::string& path, int64_t height, int64_t width, float threshold = 0.5f);

// The key a file is matched by: its stem (name without the last extension) without a trailing "_mask" or
// "-mask" (any case). "synth-000003_mask.png" -> "synth-000003".
std::string mask_key(const std::string& filename);

// A folder of mask images, searched recursively (hidden entries skipped), matched to images by mask_key
// (case-sensitive, like the file system). When several masks share an image's key, as in `cxr synth`'s
// masks/lesion/<split>/<CLASS>/synth-000003.png for every split and class, the one whose folder path shares
// the most trailing folder names with the image's (test/COVID19) wins; when that still ties the match is
// ambiguous and nothing is returned.
class MaskFolder {
 public:
  MaskFolder() = default;
  explicit MaskFolder(const std::string& dir);  // throws when dir is not a folder
  // The matching mask's path, or "" (no mask with that key, or ambiguous: *ambiguous is then true).
  std::string find(const std::string& image_path, bool* ambiguous = nullptr) const;
  size_t size() const { return count_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  size_t count_ = 0;
  std::map<std::string, std::vector<std::string>> by_key_;
};

}  // namespace cxr
