#include "explain/maps.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr {

Upsample parse_upsample(const std::string& name) {
  if (name == "bilinear") return Upsample::Bilinear;
  if (name == "nearest") return Upsample::Nearest;
  if (name == "bicubic") return Upsample::Bicubic;
  throw Error(str("unknown upsampling '", name, "' (known: bilinear, nearest, bicubic)"));
}

const char* upsample_name(Upsample u) {
  switch (u) {
    case Upsample::Nearest: return "nearest";
    case Upsample::Bilinear: return "bilinear";
    case Upsample::Bicubic: return "bicubic";
  }
  return "?";
}

namespace {

// One output coordinate's source taps: up to 4 (index, weight) pairs.
struct Taps {
  int64_t idx[4];
  float w[4];
  int n;
};

// Keys' cubic convolution kernel with torch's a = -0.75.
constexpr float kCubicA = -0.75f;
float cubic_near(float x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; }             // |x| <= 1
float cubic_far(float x) { return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA; }  // 1 < |x| < 2

std::vector<Taps> make_taps(int64_t in, int64_t out, Upsample mode) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  auto clampi = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  for (int64_t o = 0; o < out; ++o) {
    Taps& t = taps[static_cast<size_t>(o)];
    if (mode == Upsample::Nearest) {
      t.n = 1;
      t.idx[0] = std::min(static_cast<int64_t>(std::floor(o * scale)), in - 1);
      t.w[0] = 1.0f;
      continue;
    }
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (mode == Upsample::Bilinear) {
      src = std::max(src, 0.0f);
      const int64_t i0 = static_cast<int64_t>(src);  // floor: src >= 0
      const float l = src - static_cast<float>(i0);
      t.n = 2;
      t.idx[0] = clampi(i0);
      t.idx[1] = clampi(i0 + 1);
      t.w[0] = 1.0f - l;
      t.w[1] = l;
    } else {
      const float f = std::floor(src);
      const int64_t i0 = static_cast<int64_t>(f);
      const float x = src - f;
      t.n = 4;
      for (int k = 0; k < 4; ++k) t.idx[k] = clampi(i0 - 1 + k);
      t.w[0] = cubic_far(x + 1.0f);
      t.w[1] = cubic_near(x);
      t.w[2] = cubic_near(1.0f - x);
      t.w[3] = cubic_far(2.0f - x);
    }
  }
  return taps;
}

}  // namespace

Tensor upsample_map(const Tensor& map, int64_t out_h, int64_t out_w, Upsample mode) {
  CXR_CHECK(map.defined() && (map.dim() == 2 || map.dim() == 3), "upsample_map: expected [h, w] or [C, h, w], got ",
            map.defined() ? to_string(map.shape()) : "undefined");
  CXR_CHECK(out_h > 0 && out_w > 0, "upsample_map: output size ", out_h, "x", out_w, " must be positive");
  const int64_t C = map.dim() == 3 ? map.size(0) : 1;
  const int64_t h = map.size(-2), w = map.size(-1);
  CXR_CHECK(h > 0 && w > 0, "upsample_map: empty map ", to_string(map.shape()));
  const std::vector<Taps> tx = make_taps(w, out_w, mode), ty = make_taps(h, out_h, mode);
  // Rows first (h x out_w per plane), then columns.
  std::vector<float> tmp(static_cast<size_t>(h * out_w));
  Tensor out = Tensor::empty(map.dim() == 3 ? Shape{C, out_h, out_w} : Shape{out_h, out_w});
  for (int64_t c = 0; c < C; ++c) {
    const float* src = map.data() + c * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < out_w; ++x) {
        const Taps& t = tx[static_cast<size_t>(x)];
        float s = 0.0f;
        for (int k = 0; k < t.n; ++k) s += t.w[k] * src[y * w + t.idx[k]];
        tmp[static_cast<size_t>(y * out_w + x)] = s;
      }
    float* dst = out.data() + c * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y) {
      const Taps& t = ty[static_cast<size_t>(y)];
      for (int64_t x = 0; x < out_w; ++x) {
        float s = 0.0f;
        for (int k = 0; k < t.n; ++k) s += t.w[k] * tmp[static_cast<size_t>(t.idx[k] * out_w + x)];
        dst[y * out_w + x] = s;
      }
    }
  }
  return out;
}

Degeneracy check_map(const Tensor& raw, bool relu) {
  CXR_CHECK(raw.defined() && raw.numel() > 0, "check_map: empty map");
  const float* p = raw.data();
  float lo = INFINITY, hi = -INFINITY, raw_hi = -INFINITY;
  for (int64_t i = 0; i < raw.numel(); ++i) {
    if (!std::isfinite(p[i])) return {true, "non-finite values (NaN or Inf)"};
    raw_hi = std::max(raw_hi, p[i]);
    const float v = relu ? std::max(p[i], 0.0f) : p[i];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (relu && raw_hi <= 0.0f) return {true, "all values <= 0: no positive evidence"};
  const float mag = std::max(std::fabs(lo), std::fabs(hi));
  if (!(hi - lo > 1e-6f * mag)) return {true, "constant map"};
  return {};
}

Tensor minmax_scale(const Tensor& t) {
  Tensor out = Tensor::zeros(t.shape());
  const float* p = t.data();
  float lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (!std::isfinite(p[i])) return out;
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  if (!(hi > lo)) return out;
  const float inv = 1.0f / (hi - lo);
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = (p[i] - lo) * inv;
  return out;
}

Tensor normalize_map(const Tensor& raw, bool relu) {
  if (check_map(raw, relu).degenerate) return Tensor::zeros(raw.shape());
  if (!relu) return minmax_scale(raw);
  Tensor r = Tensor::empty(raw.shape());
  for (int64_t i = 0; i < raw.numel(); ++i) r[i] = std::max(raw[i], 0.0f);
  return minmax_scale(r);
}

}  // namespace cxr
