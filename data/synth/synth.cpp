// The synthetic X-ray pipeline: anatomy and lesions as attenuation on a canvas, a random pose, the
// exposure curve, noise and blur, then the marker. See data/synth.h for the contract.
#include "data/synth.h"

#include <algorithm>
#include <cmath>

#include "core/threading.h"
#include "data/synth/parts.h"

namespace cxr::data {

using namespace synth;

const std::vector<std::string>& synth_class_names() {
  static const std::vector<std::string> names = {"COVID19", "NORMAL", "PNEUMONIA"};
  return names;
}

static int class_id(const std::string& cls) {
  const auto& names = synth_class_names();
  auto it = std::find(names.begin(), names.end(), cls);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

void validate(const SynthOptions& o) {
  CXR_CHECK(o.size >= 32 && o.size <= 8192, "synth: size ", o.size, " is out of range (32 to 8192)");
  CXR_CHECK(o.difficulty >= 0.f && o.difficulty <= 1.f, "synth: difficulty ", o.difficulty,
            " is outside [0, 1]");
  CXR_CHECK(o.lesion_contrast <= 10.f, "synth: lesion contrast ", o.lesion_contrast, " is too large (max 10)");
  CXR_CHECK(o.shortcut_rate >= 0.f && o.shortcut_rate <= 1.f, "synth: shortcut rate ", o.shortcut_rate,
            " is outside [0, 1]");
  CXR_CHECK(class_id(o.shortcut_class) >= 0, "synth: unknown shortcut class '", o.shortcut_class,
            "' (classes: COVID19, NORMAL, PNEUMONIA)");
  CXR_CHECK(!o.classes.empty(), "synth: no classes given");
  for (const auto& c : o.classes)
    CXR_CHECK(class_id(c) >= 0, "synth: unknown class '", c, "' (classes: COVID19, NORMAL, PNEUMONIA)");
  CXR_CHECK(o.shortcut_rate == 0.f || std::find(o.classes.begin(), o.classes.end(), o.shortcut_class) != o.classes.end(),
            "synth: the shortcut class ", o.shortcut_class, " is not among the classes made (", join(o.classes),
            "): no image would carry the marker");
  CXR_CHECK(o.train >= 0 && o.val >= 0 && o.test >= 0, "synth: negative image count (train ", o.train, ", val ",
            o.val, ", test ", o.test, ")");
}

uint64_t sample_seed(uint64_t seed, const std::string& split, const std::string& cls, int64_t index) {
  auto name_id = [](const std::string& s) {  // FNV-1a: any other name still gets a stable stream
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
    return h;
  };
  uint64_t split_id = split == "train" ? 1 : split == "val" ? 2 : split == "test" ? 3 : name_id(split);
  int c = class_id(cls);
  uint64_t cid = c >= 0 ? static_cast<uint64_t>(c) + 1 : name_id(cls);
  return Rng(seed).fork(split_id).fork(cid).fork(static_cast<uint64_t>(index)).next_u64();
}

namespace {

// Per-thread planes, reused from one sample to the next.
struct Work {
  Plane atten, lung, shape, opacity, image, marker;
  std::vector<float> lung_w, shape_w, tmp;  // the lung and lesion maps after the pose
};

struct Pose {
  float angle, zoom, shift_u, shift_v;
};

// Resamples the canvas planes into the final image frame under the pose (bilinear, edges clamped).
void warp(const Frame& f, const Pose& p, const Plane* src[3], float* dst[3]) {
  const int S = f.size, n = f.side();
  const float c = std::cos(p.angle) / p.zoom, s = std::sin(p.angle) / p.zoom;
  const float lim = static_cast<float>(n - 1) - 1e-3f;
  for (int y = 0; y < S; ++y) {
    float v = (y + 0.5f) / S - 0.5f - p.shift_v;
    for (int x = 0; x < S; ++x) {
      float u = (x + 0.5f) / S - 0.5f - p.shift_u;
      float X = std::clamp(f.px(c * u + s * v + 0.5f), 0.f, lim);
      float Y = std::clamp(f.px(-s * u + c * v + 0.5f), 0.f, lim);
      int ix = static_cast<int>(X), iy = static_cast<int>(Y);
      float fx = X - ix, fy = Y - iy;
      size_t i0 = static_cast<size_t>(iy) * n + ix, i1 = i0 + n;
      for (int k = 0; k < 3; ++k) {
        const float* q = src[k]->px.data();
        float top = q[i0] + (q[i0 + 1] - q[i0]) * fx, bot = q[i1] + (q[i1 + 1] - q[i1]) * fx;
        dst[k][static_cast<size_t>(y) * S + x] = top + (bot - top) * fy;
      }
    }
  }
}

// Attenuation -> displayed intensity: 1 - exp(-gain * A) (more attenuation, brighter), normalised to a
// reference thickness, then brightness, contrast and gamma. Tabulated: the curve is monotone and smooth.
struct Exposure {
  static constexpr int kSize = 2048;
  static constexpr float kMax = 3.f;
  float lut[kSize + 1];
  void init(Rng& r) {
    float gain = r.uniform(1.0f, 1.6f);
    float ref = 1.f - std::exp(-gain * r.uniform(1.6f, 2.0f));
    float black = r.uniform(-0.04f, 0.08f), contrast = r.uniform(0.95f, 1.2f), gamma = r.uniform(0.8f, 1.3f);
    for (int i = 0; i <= kSize; ++i) {
      float a = kMax * i / kSize;
      float v = (1.f - std::exp(-gain * a)) / ref;
      v = std::clamp((v - black) * contrast, 0.f, 1.f);
      lut[i] = std::pow(v, gamma);
    }
  }
  float operator()(float a) const {
    float x = std::clamp(a, 0.f, kMax) * (kSize / kMax);
    int i = std::min(static_cast<int>(x), kSize - 1);
    float t = x - i;
    return lut[i] + (lut[i + 1] - lut[i]) * t;
  }
};

Tensor to_tensor(const float* data, int S) {
  Tensor t = Tensor::empty({1, S, S});
  std::copy(data, data + static_cast<size_t>(S) * S, t.data());
  return t;
}

}  // namespace

SynthSample render_sample(const SynthOptions& opts, const std::string& cls, uint64_t index_seed) {
  CXR_CHECK(class_id(cls) >= 0, "synth: unknown class '", cls, "' (classes: COVID19, NORMAL, PNEUMONIA)");
  CXR_CHECK(opts.size >= 32, "synth: size ", opts.size, " is below 32");
  thread_local Work w;
  const Rng base(index_seed);
  Rng r_anat = base.fork(1), r_lesion = base.fork(2), r_marker = base.fork(3), r_acq = base.fork(4),
      r_noise = base.fork(5);
  const float d = opts.difficulty;
  const int S = opts.size;
  Frame f;
  f.size = S;
  f.margin = static_cast<int>(std::ceil(0.1 * S));
  const int n = f.side();
  for (Plane* p : {&w.atten, &w.lung, &w.shape, &w.opacity}) p->reset(n, n);

  Anatomy a;
  sample_anatomy(a, r_anat, d);
  render_anatomy(a, f, r_anat, w.atten, w.lung);
  render_lesions(a, f, cls, r_lesion, w.lung, w.shape, w.opacity);
  const float contrast = opts.lesion_contrast >= 0.f ? opts.lesion_contrast : 1.f - 0.7f * d;
  for (size_t i = 0; i < w.atten.px.size(); ++i)
    w.atten.px[i] += contrast * std::max(w.opacity.px[i], 0.f) * w.lung.px[i];

  // Acquisition: pose, exposure, heel effect, noise, blur.
  Pose pose{std::clamp(r_acq.normal(0.f, 0.03f), -0.07f, 0.07f), r_acq.uniform(0.95f, 1.05f),
            r_acq.uniform(-0.02f, 0.02f), r_acq.uniform(-0.02f, 0.02f)};
  w.image.reset(S, S);
  w.marker.reset(S, S);
  w.lung_w.resize(static_cast<size_t>(S) * S);
  w.shape_w.resize(w.lung_w.size());
  const Plane* src[3] = {&w.atten, &w.lung, &w.shape};
  float* dst[3] = {w.image.px.data(), w.lung_w.data(), w.shape_w.data()};
  warp(f, pose, src, dst);
  Exposure expo;
  expo.init(r_acq);
  const float heel = r_acq.uniform(-0.08f, 0.08f);
  const float sigma_noise = r_acq.uniform(0.01f, 0.03f) + 0.04f * d;
  const float sigma_blur = (r_acq.uniform(0.3f, 0.8f) + 0.5f * d) * S / 128.f;
  for (int y = 0; y < S; ++y) {
    float* row = w.image.row(y);
    float g = 1.f + heel * ((y + 0.5f) / S - 0.5f);
    for (int x = 0; x < S; ++x) row[x] = expo(row[x]) * g + sigma_noise * fast_normal(r_noise.next_u64());
  }
  blur(w.image, sigma_blur, w.tmp);

  SynthSample out;
  out.label = cls;
  out.shortcut = cls == opts.shortcut_class && r_marker.bernoulli(opts.shortcut_rate);
  if (out.shortcut) draw_marker(w.image, w.marker, r_marker);
  for (float& v : w.image.px) v = clamp01(v);
  out.image = to_tensor(w.image.px.data(), S);
  out.lung_mask = Tensor::empty({1, S, S});
  out.lesion_mask = Tensor::empty({1, S, S});
  for (size_t i = 0; i < w.lung_w.size(); ++i) {
    bool in_lung = w.lung_w[i] >= 0.5f;
    out.lung_mask[i] = in_lung ? 1.f : 0.f;
    out.lesion_mask[i] = in_lung && w.shape_w[i] >= 0.5f ? 1.f : 0.f;
  }
  out.marker_mask = to_tensor(w.marker.px.data(), S);
  return out;
}

std::vector<SynthSample> render_batch(const SynthOptions& opts, const std::string& split, const std::string& cls,
                                      int64_t first, int64_t count) {
  validate(opts);
  CXR_CHECK(class_id(cls) >= 0, "synth: unknown class '", cls, "'");
  std::vector<SynthSample> out(static_cast<size_t>(std::max<int64_t>(count, 0)));
#pragma omp parallel for schedule(dynamic) num_threads(num_threads())
  for (int64_t i = 0; i < count; ++i)
    out[static_cast<size_t>(i)] = render_sample(opts, cls, sample_seed(opts.seed, split, cls, first + i));
  return out;
}

}  // namespace cxr::data
