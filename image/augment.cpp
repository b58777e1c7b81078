#include "image/augment.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace cxr::image {

AugmentParams AugmentParams::xray() {
  AugmentParams p;
  p.width_shift_range = 0.1f;
  p.height_shift_range = 0.1f;
  p.shear_range = 0.1f;
  p.zoom_range = 0.2f;
  return p;
}

AugmentParams AugmentParams::preset(const std::string& name) {
  if (name == "none") return none();
  if (name == "xray") return xray();
  throw Error(str("unknown augmentation preset '", name, "' (known: none, xray)"));
}

bool AugmentParams::is_identity() const {
  return rotation_range == 0 && width_shift_range == 0 && height_shift_range == 0 && shear_range == 0 &&
         zoom_range == 0 && !horizontal_flip && brightness_range[0] == 1 && brightness_range[1] == 1 &&
         contrast_range[0] == 1 && contrast_range[1] == 1 && noise_std == 0;
}

std::string AugmentParams::describe() const {
  if (is_identity()) return "none";
  std::ostringstream os;
  auto part = [&](const char* name, float v) {
    if (v != 0) os << (os.tellp() > 0 ? " " : "") << name << "=" << v;
  };
  part("rotation_range", rotation_range);
  part("width_shift_range", width_shift_range);
  part("height_shift_range", height_shift_range);
  part("shear_range", shear_range);
  part("zoom_range", zoom_range);
  if (horizontal_flip) os << (os.tellp() > 0 ? " " : "") << "horizontal_flip=true";
  if (brightness_range[0] != 1 || brightness_range[1] != 1)
    os << (os.tellp() > 0 ? " " : "") << "brightness_range=[" << brightness_range[0] << "," << brightness_range[1]
       << "]";
  if (contrast_range[0] != 1 || contrast_range[1] != 1)
    os << (os.tellp() > 0 ? " " : "") << "contrast_range=[" << contrast_range[0] << "," << contrast_range[1] << "]";
  part("noise_std", noise_std);
  os << " fill_mode=nearest";
  return os.str();
}

void AugmentParams::validate() const {
  auto ok = [](float v) { return std::isfinite(v) && v >= 0; };
  CXR_CHECK(ok(rotation_range) && ok(width_shift_range) && ok(height_shift_range) && ok(shear_range) &&
                ok(zoom_range) && ok(noise_std),
            "augmentation ranges must be finite and >= 0: ", describe());
  CXR_CHECK(zoom_range < 1, "zoom_range must be < 1 (zoom factors in [1 - z, 1 + z]): ", zoom_range);
  for (const auto& r : {brightness_range, contrast_range})
    CXR_CHECK(std::isfinite(r[0]) && std::isfinite(r[1]) && r[0] >= 0 && r[0] <= r[1],
              "brightness/contrast ranges must be [lo, hi] with 0 <= lo <= hi: ", describe());
}

AugmentDraw draw_augment(const AugmentParams& p, Rng& rng, int width, int height) {
  // Keras: a shift range below 1 is a fraction of the side, from 1 up it is in pixels.
  auto shift = [&](float range, int side) {
    float v = rng.uniform(-range, range);
    return range < 1 ? v * static_cast<float>(side) : v;
  };
  AugmentDraw d;
  d.angle_deg = rng.uniform(-p.rotation_range, p.rotation_range);
  d.shift_x = shift(p.width_shift_range, width);
  d.shift_y = shift(p.height_shift_range, height);
  d.shear_deg = rng.uniform(-p.shear_range, p.shear_range);
  d.zoom_x = rng.uniform(1 - p.zoom_range, 1 + p.zoom_range);
  d.zoom_y = rng.uniform(1 - p.zoom_range, 1 + p.zoom_range);
  bool coin = rng.bernoulli(0.5f);
  d.flip = p.horizontal_flip && coin;
  d.brightness = rng.uniform(p.brightness_range[0], p.brightness_range[1]);
  d.contrast = rng.uniform(p.contrast_range[0], p.contrast_range[1]);
  return d;
}

Affine affine_of(const AugmentDraw& d, int width, int height) {
  const double deg = M_PI / 180.0;
  // A = R * Sh * Z * F acting on offsets from the centre (x right, y down).
  // R: the content turns counter-clockwise on screen by angle, so an output offset w reads the input at R w.
  double ca = std::cos(d.angle_deg * deg), sa = std::sin(d.angle_deg * deg);
  double R[4] = {ca, -sa, sa, ca};
  // Sh: Keras's shear, (x, y) -> (x cos s, y - x sin s).
  double cs = std::cos(d.shear_deg * deg), ss = std::sin(d.shear_deg * deg);
  double Sh[4] = {cs, 0, -ss, 1};
  double ZF[4] = {d.flip ? -d.zoom_x : d.zoom_x, 0, 0, d.zoom_y};
  auto mul = [](const double* a, const double* b, double* o) {
    o[0] = a[0] * b[0] + a[1] * b[2];
    o[1] = a[0] * b[1] + a[1] * b[3];
    o[2] = a[2] * b[0] + a[3] * b[2];
    o[3] = a[2] * b[1] + a[3] * b[3];
  };
  double RS[4], A[4];
  mul(R, Sh, RS);
  mul(RS, ZF, A);
  // in = c + A (out - c - s)  =  A out + (c - A (c + s))
  double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  double px = cx + d.shift_x, py = cy + d.shift_y;
  Affine m;
  m.m[0] = A[0];
  m.m[1] = A[1];
  m.m[2] = cx - (A[0] * px + A[1] * py);
  m.m[3] = A[2];
  m.m[4] = A[3];
  m.m[5] = cy - (A[2] * px + A[3] * py);
  return m;
}

Tensor warp_affine(const Tensor& chw, const Affine& a) {
  check_dims(chw, 3, "warp_affine (expects [C, H, W])");
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  Tensor out = Tensor::empty(chw.shape());
  const double* m = a.m;
  const double xmax = static_cast<double>(W - 1), ymax = static_cast<double>(H - 1);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const double xo = static_cast<double>(x), yo = static_cast<double>(y);
      // fill_mode='nearest': a point outside reads the nearest edge, i.e. the coordinates are clamped.
      const double qx = std::clamp(m[0] * xo + m[1] * yo + m[2], 0.0, xmax);
      const double qy = std::clamp(m[3] * xo + m[4] * yo + m[5], 0.0, ymax);
      int64_t x0 = static_cast<int64_t>(qx), y0 = static_cast<int64_t>(qy);
      int64_t x1 = std::min(x0 + 1, W - 1), y1 = std::min(y0 + 1, H - 1);
      const float fx = static_cast<float>(qx - static_cast<double>(x0));
      const float fy = static_cast<float>(qy - static_cast<double>(y0));
      for (int64_t c = 0; c < C; ++c) {
        const float* p = chw.data() + c * H * W;
        float top = (1 - fx) * p[y0 * W + x0] + fx * p[y0 * W + x1];
        float bot = (1 - fx) * p[y1 * W + x0] + fx * p[y1 * W + x1];
        out.data()[(c * H + y) * W + x] = (1 - fy) * top + fy * bot;
      }
    }
  }
  return out;
}

Tensor augment(const Tensor& chw, const AugmentParams& p, Rng& rng) {
  if (p.is_identity()) return chw;
  check_dims(chw, 3, "augment (expects [C, H, W])");
  const int W = static_cast<int>(chw.size(2)), H = static_cast<int>(chw.size(1));
  AugmentDraw d = draw_augment(p, rng, W, H);
  Tensor out = warp_affine(chw, affine_of(d, W, H));
  float* v = out.data();
  const int64_t n = out.numel();
  if (d.brightness != 1)
    for (int64_t i = 0; i < n; ++i) v[i] *= d.brightness;
  if (d.contrast != 1) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += v[i];
    float mean = static_cast<float>(sum / static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = mean + d.contrast * (v[i] - mean);
  }
  if (p.noise_std > 0)
    for (int64_t i = 0; i < n; ++i) v[i] += rng.normal(0.0f, p.noise_std);
  for (int64_t i = 0; i < n; ++i) v[i] = std::clamp(v[i], 0.0f, 1.0f);
  return out;
}

}  // namespace cxr::image
