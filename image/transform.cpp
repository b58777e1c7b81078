// Resize with a triangle filter (antialiased when shrinking), channel conversions, normalisation.
#include "image/transform.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace cxr::image {
namespace {

// Below this many output values a pass runs on one thread: waking the team costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// For each output index along one axis: the first input index and the normalised weights of the input
// pixels it averages. Pillow's resampling scheme (also torchvision's antialias=True):
//   centre of output pixel i in input coordinates: (i + 0.5) * scale, scale = in / out
//   filter width: the triangle's support 1, times scale when shrinking with antialias
//   weight of input pixel j: triangle((j + 0.5 - centre) / filter_scale), then divided by the sum.
struct Taps {
  int64_t max_taps = 0;
  std::vector<int64_t> first, count;
  std::vector<float> weights;  // [out][max_taps]
};

float triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? static_cast<float>(1.0 - x) : 0.0f;
}

Taps make_taps(int64_t in, int64_t out, bool antialias) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filter_scale = antialias ? std::max(scale, 1.0) : 1.0;
  const double support = 1.0 * filter_scale;
  Taps t;
  t.max_taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out * t.max_taps), 0.0f);
  for (int64_t i = 0; i < out; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * scale;
    int64_t lo = static_cast<int64_t>(centre - support + 0.5);  // truncation, as Pillow
    int64_t hi = static_cast<int64_t>(centre + support + 0.5);
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, in);
    const int64_t n = std::min(hi - lo, t.max_taps);
    float* w = &t.weights[i * t.max_taps];
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      w[k] = triangle((static_cast<double>(lo + k) - centre + 0.5) / filter_scale);
      sum += w[k];
    }
    if (sum > 0.0)
      for (int64_t k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / sum);
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

void check_image(const Tensor& chw, const char* what) {
  CXR_CHECK(chw.defined() && chw.dim() == 3, what, ": expected a [C, H, W] image, got ",
            chw.defined() ? to_string(chw.shape()) : std::string("an undefined tensor"));
}

// Plane `c` of src copied into plane `d` of dst.
void copy_plane(const Tensor& src, int64_t c, Tensor& dst, int64_t d) {
  const int64_t plane = src.size(1) * src.size(2);
  std::copy_n(src.data() + c * plane, plane, dst.data() + d * plane);
}

}  // namespace

Tensor resize(const Tensor& chw, int64_t out_h, int64_t out_w, bool antialias) {
  check_image(chw, "resize");
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  CXR_CHECK(H > 0 && W > 0, "resize: empty input image ", to_string(chw.shape()));
  CXR_CHECK(out_h > 0 && out_w > 0, "resize: output size must be positive, got ", out_h, " x ", out_w);
  if (out_h == H && out_w == W) return chw.clone();

  // Horizontal pass [C, H, W] -> [C, H, out_w], then vertical [C, H, out_w] -> [C, out_h, out_w]; a pass
  // whose size does not change is skipped (its taps would be the identity).
  Tensor cur = chw;
  if (out_w != W) {
    const Taps t = make_taps(W, out_w, antialias);
    Tensor next = Tensor::empty({C, H, out_w});
    const float* in = cur.data();
    float* out = next.data();
#pragma omp parallel for schedule(static) if (C * H * out_w > kParallelMin)
    for (int64_t row = 0; row < C * H; ++row) {
      const float* src = in + row * W;
      float* dst = out + row * out_w;
      for (int64_t x = 0; x < out_w; ++x) {
        const float* w = &t.weights[x * t.max_taps];
        const float* s = src + t.first[x];
        float acc = 0.0f;
        for (int64_t k = 0; k < t.count[x]; ++k) acc += w[k] * s[k];
        dst[x] = acc;
      }
    }
    cur = next;
  }
  if (out_h != H) {
    const Taps t = make_taps(H, out_h, antialias);
    const int64_t w_now = cur.size(2);
    Tensor next = Tensor::empty({C, out_h, w_now});
    const float* in = cur.data();
    float* out = next.data();
#pragma omp parallel for schedule(static) if (C * out_h * w_now > kParallelMin)
    for (int64_t row = 0; row < C * out_h; ++row) {
      const int64_t c = row / out_h, y = row % out_h;
      const float* w = &t.weights[y * t.max_taps];
      float* dst = out + row * w_now;
      std::fill_n(dst, w_now, 0.0f);
      // Row-wise accumulation keeps the inner loop contiguous (vectorises).
      for (int64_t k = 0; k < t.count[y]; ++k) {
        const float* src = in + (c * H + t.first[y] + k) * w_now;
        const float wk = w[k];
        for (int64_t x = 0; x < w_now; ++x) dst[x] += wk * src[x];
      }
    }
    cur = next;
  }
  return cur;
}

Tensor to_gray(const Tensor& chw) {
  check_image(chw, "to_gray");
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  CXR_CHECK(C >= 1 && C <= 4, "to_gray: expected 1 to 4 channels, got ", to_string(chw.shape()));
  Tensor out = Tensor::empty({1, H, W});
  if (C <= 2) {
    copy_plane(chw, 0, out, 0);
    return out;
  }
  const int64_t plane = H * W;
  const float* r = chw.data();
  const float* g = r + plane;
  const float* b = g + plane;
  float* o = out.data();
  for (int64_t i = 0; i < plane; ++i) o[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
  return out;
}

Tensor gray_to_rgb(const Tensor& chw) {
  check_image(chw, "gray_to_rgb");
  CXR_CHECK(chw.size(0) == 1 || chw.size(0) == 2, "gray_to_rgb: expected a gray image (1 or 2 channels), got ",
            to_string(chw.shape()));
  Tensor out = Tensor::empty({3, chw.size(1), chw.size(2)});
  for (int64_t d = 0; d < 3; ++d) copy_plane(chw, 0, out, d);
  return out;
}

Tensor drop_alpha(const Tensor& chw) {
  check_image(chw, "drop_alpha");
  const int64_t C = chw.size(0);
  CXR_CHECK(C >= 1 && C <= 4, "drop_alpha: expected 1 to 4 channels, got ", to_string(chw.shape()));
  const int64_t keep = (C == 2 || C == 4) ? C - 1 : C;
  Tensor out = Tensor::empty({keep, chw.size(1), chw.size(2)});
  for (int64_t c = 0; c < keep; ++c) copy_plane(chw, c, out, c);
  return out;
}

Tensor to_rgb(const Tensor& chw) {
  check_image(chw, "to_rgb");
  const int64_t C = chw.size(0);
  CXR_CHECK(C >= 1 && C <= 4, "to_rgb: expected 1 to 4 channels, got ", to_string(chw.shape()));
  return C <= 2 ? gray_to_rgb(chw) : drop_alpha(chw);
}

Tensor to_channels(const Tensor& chw, int channels) {
  CXR_CHECK(channels == 1 || channels == 3, "to_channels: can convert to 1 (gray) or 3 (RGB) channels, not ",
            channels);
  return channels == 1 ? to_gray(chw) : to_rgb(chw);
}

// ---- normalisation ---------------------------------------------------------------------------------------

std::vector<std::string> normalisation_preset_names() { return {"imagenet", "half", "none"}; }

Normalisation normalisation_preset(const std::string& name) {
  if (name == "imagenet") return {"imagenet", {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  if (name == "half") return {"half", {0.5f}, {0.5f}};
  if (name == "none") return {"none", {0.0f}, {1.0f}};
  std::string known;
  for (const auto& n : normalisation_preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(str("unknown normalisation preset '", name, "' (known: ", known, ")"));
}

namespace {

// Applies x -> x * scale[c] + shift[c] over [C, H, W] or [N, C, H, W], checking the channel count.
void affine_per_channel(Tensor& x, const Normalisation& n, bool inverse, const char* what) {
  CXR_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), what, ": expected [C, H, W] or [N, C, H, W], got ",
            x.defined() ? to_string(x.shape()) : std::string("an undefined tensor"));
  const int64_t N = x.dim() == 4 ? x.size(0) : 1;
  const int64_t C = x.size(-3), plane = x.size(-2) * x.size(-1);
  CXR_CHECK(n.mean.size() == n.std.size() && !n.mean.empty(), what, ": normalisation '", n.name,
            "' has ", n.mean.size(), " means and ", n.std.size(), " stds");
  CXR_CHECK(n.mean.size() == 1 || static_cast<int64_t>(n.mean.size()) == C, what, ": normalisation '", n.name,
            "' has ", n.mean.size(), " channels but the image ", to_string(x.shape()), " has ", C,
            " (convert with to_channels first)");
  for (float s : n.std) CXR_CHECK(s > 0.0f, what, ": normalisation '", n.name, "' has a std of ", s);
  float* p = x.data();
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < C; ++c) {
      const size_t k = n.mean.size() == 1 ? 0 : static_cast<size_t>(c);
      const float m = n.mean[k], s = n.std[k];
      float* q = p + (i * C + c) * plane;
      if (inverse) {
        for (int64_t j = 0; j < plane; ++j) q[j] = q[j] * s + m;
      } else {
        for (int64_t j = 0; j < plane; ++j) q[j] = (q[j] - m) / s;
      }
    }
}

}  // namespace

void normalise_(Tensor& x, const Normalisation& n) { affine_per_channel(x, n, false, "normalise"); }

Tensor normalise(const Tensor& x, const Normalisation& n) {
  CXR_CHECK(x.defined(), "normalise: undefined tensor");
  Tensor out = x.clone();
  affine_per_channel(out, n, false, "normalise");
  return out;
}

Tensor denormalise(const Tensor& x, const Normalisation& n) {
  CXR_CHECK(x.defined(), "denormalise: undefined tensor");
  Tensor out = x.clone();
  affine_per_channel(out, n, true, "denormalise");
  return out;
}

}  // namespace cxr::image
