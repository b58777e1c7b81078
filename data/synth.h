// Synthetic chest X-ray phantoms with ground-truth masks (`cxr synth`).
//
// Each sample is a frontal (PA) chest radiograph phantom rendered the way an X-ray forms: an attenuation map
// is composed additively (soft tissue, air-filled lungs, ribs, clavicles, spine, heart, vessels, lesions),
// warped by a random pose, then mapped to intensity (more attenuation = brighter) with random exposure,
// contrast, gamma, noise and blur. Image coordinates follow the radiological convention: the patient's right
// is on the image LEFT, so the heart bulges to the image right and the right hemidiaphragm (image left) is
// higher.
//
// Classes and their lesions (lesions are clipped to the lungs):
//   NORMAL     clear lungs, empty lesion mask;
//   PNEUMONIA  one dense, irregular, lobar consolidation inside ONE lung, sometimes with air bronchograms
//              (dark branching lines inside it) and a straight fissure border;
//   COVID19    bilateral, peripheral, lower-zone, patchy ground-glass opacities (faint blobs near the lateral
//              lung edges of the lower half of both lungs).
// Difficulty (0..1) lowers the lesion contrast and adds distractors every class shares: crowded vessels,
// breast and nipple shadows, more noise and blur.
//
// Shortcut marker: with probability shortcut_rate, images of shortcut_class get a burned-in bright tag of
// block glyphs ("L", "R", "PA", ...) in the image's border band (see marker_band_px) — a deliberate
// shortcut a classifier can learn instead of the lesion, which Grad-CAM should then expose.
//
// Determinism: a sample depends only on its seed (sample_seed(seed, split, class, index)), never on the
// thread count or on which other classes or splits are generated. The anatomy, lesion, marker, acquisition
// and noise draws use separate forks of that seed, so rendering the same seed with lesion_contrast = 0 gives
// the same picture without the lesion (and the same lesion mask).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr::data {

struct SynthOptions {
  int size = 128;                    // images are size x size pixels (>= 32)
  uint64_t seed = 1;
  float difficulty = 0.3f;           // 0 = obvious lesions, 1 = faint lesions and many distractors
  float lesion_contrast = -1.0f;     // lesion strength multiplier; < 0: 1 - 0.7 * difficulty
  float shortcut_rate = 0.0f;        // probability of the marker on an image of shortcut_class
  std::string shortcut_class = "COVID19";
  std::vector<std::string> classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  int train = 300, val = 60, test = 60;  // images per class in each split
  bool marker_masks = true;          // write_dataset: also OUT/masks/marker/... for images with a marker
};

// All classes the generator knows, in a fixed order (a class's seed stream never depends on --classes).
const std::vector<std::string>& synth_class_names();
// Throws cxr::Error naming the options when they are out of range (size < 32, difficulty outside [0, 1],
// rates outside [0, 1], unknown class names, negative counts).
void validate(const SynthOptions& opts);

struct SynthSample {
  Tensor image;        // [1, S, S] in [0, 1]
  Tensor lung_mask;    // [1, S, S], 0 or 1
  Tensor lesion_mask;  // [1, S, S], 0 or 1; all zero for NORMAL; inside lung_mask
  Tensor marker_mask;  // [1, S, S], 0 or 1; all zero unless shortcut
  std::string label;
  bool shortcut = false;
};

// The seed of one image: a fork of `seed` by split ("train", "val", "test"; any other name hashes), class
// and index.
uint64_t sample_seed(uint64_t seed, const std::string& split, const std::string& cls, int64_t index);

// Renders one sample of class `cls` (a name from synth_class_names()) from its seed.
SynthSample render_sample(const SynthOptions& opts, const std::string& cls, uint64_t index_seed);

// Renders images [first, first + count) of one split and class, in parallel (OpenMP, cxr::num_threads()).
std::vector<SynthSample> render_batch(const SynthOptions& opts, const std::string& split, const std::string& cls,
                                      int64_t first, int64_t count);

// Pixels from the image edge within which a marker always lies entirely: max(ceil(0.2 * size), 10).
int marker_band_px(int size);

// Writes a dataset under out_dir:
//   {train,val,test}/<CLASS>/synth-NNNNNN.png            the images (8-bit gray)
//   masks/{lung,lesion}/<split>/<CLASS>/synth-NNNNNN.png  binary masks, 0/255
//   masks/marker/<split>/<CLASS>/synth-NNNNNN.png         marker masks (only images with a marker)
//   manifest.csv   file,label,split,source,patient_id,lung_mask,lesion_mask,shortcut (paths relative to out_dir;
//                  source "synth", or "synth-marker" for images carrying the marker)
// Masks sit outside the class folders so that scanning {split}/<CLASS>/ finds images only.
struct SynthStats {
  int64_t images = 0, with_marker = 0;
  int64_t per_split[3] = {0, 0, 0};  // train, val, test
  double seconds = 0;
};
SynthStats write_dataset(const SynthOptions& opts, const std::string& out_dir);

}  // namespace cxr::data
