// Image transforms on [C, H, W] float tensors (as decoded by image/image.h, values in [0, 1]).
//
// The [0, 1] rescale (the seed notebook's rescale=1/255) already happens in decoding. What remains for a
// training pipeline: resize, channel conversions, and per-channel normalisation. Every function returns a
// new tensor (never a view of its input) and throws cxr::Error naming itself and the shape on bad input.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr::image {

// Resize [C, H, W] -> [C, out_h, out_w] with a separable triangle (bilinear) filter, pixel centres at
// i + 0.5 (align_corners=False). When shrinking with antialias, the filter's support is widened by the
// scale factor so every input pixel contributes (Pillow's BILINEAR, torchvision's antialias=True): a fine
// checkerboard averages to gray instead of aliasing. When growing, or with antialias=false, it is plain
// bilinear interpolation with edge clamping (torch's interpolate(mode="bilinear", align_corners=False)).
// Parallel over rows with OpenMP.
Tensor resize(const Tensor& chw, int64_t out_h, int64_t out_w, bool antialias = true);

// ITU-R 601-2 luma, as Pillow's convert("L"): L = 0.299 R + 0.587 G + 0.114 B. Alpha is dropped, not
// composited (like Pillow): C = 1 -> copy, 2 -> the gray plane, 3 -> luma, 4 -> luma of RGB.
Tensor to_gray(const Tensor& chw);
// C = 1 or 2 (alpha dropped) -> the gray plane repeated into R, G, B.
Tensor gray_to_rgb(const Tensor& chw);
// Any of C = 1..4 -> RGB: gray repeated, alpha dropped.
Tensor to_rgb(const Tensor& chw);
// C = 2 -> 1, C = 4 -> 3; C = 1 or 3 -> copy.
Tensor drop_alpha(const Tensor& chw);
// To 1 (gray) or 3 (RGB) channels, from any of 1..4.
Tensor to_channels(const Tensor& chw, int channels);

// Per-channel (x - mean[c]) / std[c]. mean/std have one value (all channels) or one per channel.
struct Normalisation {
  std::string name;
  std::vector<float> mean, std;
};
// Named presets: "imagenet" (mean 0.485 0.456 0.406, std 0.229 0.224 0.225: for ImageNet-pretrained
// weights, RGB), "half" (0.5 / 0.5: [0, 1] -> [-1, 1]) and "none" (0 / 1). Throws on any other name.
Normalisation normalisation_preset(const std::string& name);
std::vector<std::string> normalisation_preset_names();

// Work on [C, H, W] or [N, C, H, W].
Tensor normalise(const Tensor& x, const Normalisation& n);
void normalise_(Tensor& x, const Normalisation& n);  // in place
Tensor denormalise(const Tensor& x, const Normalisation& n);  // x * std + mean (for showing inputs)

}  // namespace cxr::image
