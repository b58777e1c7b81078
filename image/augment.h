// Augmentation: random geometric and intensity changes to a training image, seeded.
//
// The parameters mean what they mean in Keras's ImageDataGenerator, so a Keras recipe carries over:
//   rotation_range      degrees; angle uniform in [-r, r], positive turns the content counter-clockwise.
//   width_shift_range   fraction of the width when < 1 (shift uniform in [-r, r] * W), pixels when >= 1.
//   height_shift_range  the same for the height. Positive moves the content right / down.
//   shear_range         DEGREES (tf.keras: "Shear angle in counter-clockwise direction in degrees"); the shear
//                       angle is uniform in [-r, r]. Note that the seed notebook's shear_range=0.1 is therefore
//                       0.1 degree, a shift of 0.2 px at the edge of a 224-px image: almost nothing, as in Keras.
//                       Form as in Keras: the output's offset (dx, dy) from the centre samples the input at
//                       (dx cos s, dy - dx sin s).
//   zoom_range          zoom factors zx, zy uniform in [1 - z, 1 + z], drawn independently per axis. As in
//                       Keras a factor is the input distance sampled per output pixel: > 1 shows more of the
//                       image (content shrinks), < 1 magnifies.
//   horizontal_flip     mirror with probability 1/2. OFF by default: a chest X-ray is not mirror-symmetric
//                       (the heart is on the image right), so a flipped film is an image that never occurs.
//   fill_mode           'nearest' only: points outside the image take the nearest edge pixel.
//   brightness_range    factor uniform in [lo, hi] multiplying every pixel (Keras's brightness_range; {1, 1} off).
//   contrast_range      factor c uniform in [lo, hi]: x -> mean + c (x - mean), mean over the image (PIL's
//                       ImageEnhance.Contrast up to its grayscale mean). Not in ImageDataGenerator.
//   noise_std           gaussian noise added per pixel, in units of the [0, 1] range (0 off).
// The geometric parts compose into ONE affine map, applied once with bilinear sampling, so the image is
// resampled once however many parts are on. The output is clamped to [0, 1].
//
// Presets: "none" (the identity) and "xray" = the seed notebook's ImageDataGenerator(width_shift_range=0.1,
// height_shift_range=0.1, shear_range=0.1, zoom_range=0.2, fill_mode='nearest'), the default for X-rays.
#pragma once
#include <array>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"

namespace cxr::image {

struct AugmentParams {
  float rotation_range = 0.0f;
  float width_shift_range = 0.0f;
  float height_shift_range = 0.0f;
  float shear_range = 0.0f;  // degrees
  float zoom_range = 0.0f;
  bool horizontal_flip = false;
  std::array<float, 2> brightness_range{1.0f, 1.0f};
  std::array<float, 2> contrast_range{1.0f, 1.0f};
  float noise_std = 0.0f;

  static AugmentParams none() { return {}; }
  static AugmentParams xray();
  static AugmentParams preset(const std::string& name);  // "none" or "xray"; throws on any other name
  bool is_identity() const;  // every part off: augment() returns the input unchanged
  std::string describe() const;  // "width_shift_range=0.1 height_shift_range=0.1 ..." (the parts that are on)
  void validate() const;  // throws on negative ranges, zoom_range >= 1, inverted or negative factor ranges
};

// One draw of the random values, in output pixels and degrees.
struct AugmentDraw {
  float angle_deg = 0, shear_deg = 0;
  float zoom_x = 1, zoom_y = 1;
  float shift_x = 0, shift_y = 0;  // pixels the content moves (right, down)
  bool flip = false;
  float brightness = 1, contrast = 1;
};
// Always takes the same number of values from rng, in a fixed order, whichever parts are on: turning one
// part on does not change what the others draw. (The noise is drawn afterwards, by augment().)
AugmentDraw draw_augment(const AugmentParams& p, Rng& rng, int width, int height);

// A 2x3 map from OUTPUT pixel coordinates (x, y) to INPUT coordinates: in = m * (x, y, 1).
struct Affine {
  double m[6] = {1, 0, 0, 0, 1, 0};  // row-major [a b c; d e f]; double so the centre maps to itself
};
// The draw's geometry as one map: out -> (minus shift) -> flip -> zoom -> shear -> rotation -> in, all
// about the pixel centre ((W-1)/2, (H-1)/2), which zoom, shear, rotation and flip leave where it is.
Affine affine_of(const AugmentDraw& d, int width, int height);

// Resamples a [C, H, W] image through m with bilinear interpolation and nearest fill. An identity map
// returns exactly the input values.
Tensor warp_affine(const Tensor& chw, const Affine& m);

// One augmented copy of a [C, H, W] image in [0, 1]; returns the input itself when p.is_identity().
Tensor augment(const Tensor& chw, const AugmentParams& p, Rng& rng);

}  // namespace cxr::image
