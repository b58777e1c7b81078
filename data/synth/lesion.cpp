// Lesions: where they go and what they look like.
//   PNEUMONIA: one lobar consolidation — a dense, irregular opacity in ONE lung, sometimes cut straight by a
//              fissure and crossed by air bronchograms (dark branching airways inside the dense lung).
//   COVID19:   ground-glass opacities — several faint, soft, patchy blobs in BOTH lungs, peripheral (near
//              the lateral lung edge) and in the lower zones.
// Lesions write a shape (0..1; the mask is shape >= 0.5) and an opacity (attenuation); both are clipped to
// the lungs where they are added to the image.
#include <algorithm>
#include <cmath>

#include "data/synth/parts.h"

namespace cxr::data::synth {

namespace {

struct Blob {
  float u, v, r;
};

// Irregular union of round sub-blobs, roughened by value noise: shape = smoothstep(lo, hi, field).
void draw_patch(const Frame& f, const std::vector<Blob>& blobs, const ValueNoise& rough, float roughness, float lo,
                float hi, float strength, const ValueNoise& grain, Plane& shape, Plane& opacity, float cut_a,
                float cut_b, float cut_c) {
  float u0 = 1e9f, u1 = -1e9f, v0 = 1e9f, v1 = -1e9f;
  for (const Blob& b : blobs) {
    u0 = std::min(u0, b.u - b.r);
    u1 = std::max(u1, b.u + b.r);
    v0 = std::min(v0, b.v - b.r);
    v1 = std::max(v1, b.v + b.r);
  }
  const int n = f.side();
  const float edge = 1.5f / f.scale();
  for (int y = f.lo(v0); y <= f.hi(v1); ++y) {
    float v = f.u(y);
    float* srow = shape.row(y);
    float* orow = opacity.row(y);
    for (int x = f.lo(u0); x <= f.hi(u1); ++x) {
      float u = f.u(x);
      float field = 0.f;
      for (const Blob& b : blobs) {
        float du = u - b.u, dv = v - b.v;
        field = std::max(field, 1.f - (du * du + dv * dv) / (b.r * b.r));
      }
      if (field <= 0.f) continue;
      float fx = static_cast<float>(x), fy = static_cast<float>(y);
      field += roughness * rough.at(fx, fy, n);
      float sh = smoothstep(lo, hi, field);
      // A fissure: the line a*u + b*v + c = 0 cuts the lesion with a sharp, straight border.
      if (cut_a != 0.f || cut_b != 0.f) sh *= smoothstep(-edge, edge, cut_a * u + cut_b * v + cut_c);
      if (sh <= 0.f) continue;
      srow[x] = std::max(srow[x], sh);
      // The opacity fades in more gradually than the mask's edge: ill-defined margins.
      float soft = smoothstep(lo - 0.1f, hi + 0.35f, field);
      if (cut_a != 0.f || cut_b != 0.f) soft *= smoothstep(-edge, edge, cut_a * u + cut_b * v + cut_c);
      orow[x] += strength * soft * (0.8f + 0.25f * grain.at(fx, fy, n));
    }
  }
}

// A random point inside the lung of `side` satisfying `ok`, by rejection (false if none found).
template <typename Ok>
bool pick_point(const Anatomy& a, int side, Rng& r, float v_lo, float v_hi, Ok ok, float& u, float& v) {
  for (int tries = 0; tries < 200; ++tries) {
    v = r.uniform(v_lo, v_hi);
    float lat = lung_lateral(a, side, v);
    u = a.cx + sgn(side) * r.uniform(0.f, lat);
    if (ok(u, v)) return true;
  }
  return false;
}

void pneumonia(const Anatomy& a, const Frame& f, Rng& r, const Plane& lung, Plane& shape, Plane& opacity) {
  int side = static_cast<int>(r.below(2));
  const Lung& l = a.lung[side];
  float R = r.uniform(0.07f, 0.12f);
  // Lower and middle zones are the more likely (lobar pneumonia favours the lower lobes).
  float top = l.apex_v + 0.12f, bottom = l.dome_v - 0.02f;
  float u = 0, v = 0;
  auto inside = [&](float uu, float vv) { return lung_margin(a, side, uu, vv) > 0.04f; };
  if (!pick_point(a, side, r, top + (bottom - top) * 0.3f * r.uniform(), bottom, inside, u, v)) {
    pick_point(a, side, r, l.apex_v, l.dome_v, [&](float uu, float vv) { return lung_margin(a, side, uu, vv) > 0.f; },
               u, v);
  }
  std::vector<Blob> blobs;
  int k = 5 + static_cast<int>(r.below(5));
  blobs.push_back({u, v, R * r.uniform(0.6f, 0.8f)});
  for (int i = 1; i < k; ++i)
    blobs.push_back({u + r.normal(0.f, R * 0.45f), v + r.normal(0.f, R * 0.35f), R * r.uniform(0.4f, 0.75f)});
  ValueNoise rough, grain;
  rough.init(static_cast<int>(r.uniform(10.f, 18.f)), r);
  grain.init(30, r);
  float ca = 0, cb = 0, cc = 0;
  if (r.bernoulli(0.5f)) {
    // A fissure nearly horizontal, 0.3 to 0.8 R above or below the centre, keeping the centre's side.
    float ang = r.uniform(-0.25f, 0.25f), off = R * r.uniform(0.3f, 0.8f) * (r.bernoulli(0.5f) ? 1.f : -1.f);
    ca = -std::sin(ang);
    cb = std::cos(ang);
    cc = -(ca * u + cb * (v + off));
    if (ca * u + cb * v + cc < 0.f) {
      ca = -ca;
      cb = -cb;
      cc = -cc;
    }
  }
  float strength = r.uniform(0.32f, 0.45f);
  draw_patch(f, blobs, rough, 0.45f, 0.05f, 0.45f, strength, grain, shape, opacity, ca, cb, cc);
  if (r.bernoulli(0.5f)) {
    // Air bronchograms: a few dark branching airways inside the consolidation (masked by its shape).
    float ang0 = side == 1 ? 0.3f : 3.14159265f - 0.3f;
    float su = u - sgn(side) * R * 0.5f, sv = v - R * 0.3f;
    int n = 2 + static_cast<int>(r.below(2));
    for (int i = 0; i < n; ++i) {
      float ang = ang0 + r.uniform(-0.7f, 0.7f), len = R * r.uniform(0.5f, 0.9f);
      float eu = su + std::cos(ang) * len, ev = sv + std::sin(ang) * len;
      float rad = r.uniform(0.003f, 0.0045f);
      draw_segment(opacity, f, su, sv, eu, ev, rad, rad * 0.7f, -strength * 0.3f, &shape);
      for (int j = 0; j < 2; ++j) {
        float a2 = ang + r.uniform(0.3f, 0.6f) * (j == 0 ? 1.f : -1.f), l2 = len * r.uniform(0.4f, 0.7f);
        draw_segment(opacity, f, eu, ev, eu + std::cos(a2) * l2, ev + std::sin(a2) * l2, rad * 0.7f, rad * 0.5f,
                     -strength * 0.25f, &shape);
      }
    }
  }
  (void)lung;
}

void covid(const Anatomy& a, const Frame& f, Rng& r, Plane& shape, Plane& opacity) {
  ValueNoise rough, grain;
  rough.init(static_cast<int>(r.uniform(14.f, 22.f)), r);
  grain.init(30, r);
  for (int side = 0; side < 2; ++side) {
    const Lung& l = a.lung[side];
    // The lung reaches lowest at the costophrenic angle, below the dome's top: the lower half starts midway.
    float lowest = l.dome_v + l.dome_k * (l.lat_w - l.dome_peak) * (l.lat_w - l.dome_peak);
    float mid = 0.5f * (l.apex_v + lowest);
    int n = 2 + static_cast<int>(r.below(3));
    for (int i = 0; i < n; ++i) {
      float R = r.uniform(0.035f, 0.065f);
      // Inside the lung, in its lower half, and within ~0.1 of its lateral edge.
      auto peripheral = [&](float uu, float vv) {
        return lung_margin(a, side, uu, vv) > 0.015f && lung_margin(a, side, uu + sgn(side) * 0.1f, vv) < 0.f;
      };
      float u = 0, v = 0;
      if (!pick_point(a, side, r, mid + 0.03f, lowest - 0.02f, peripheral, u, v)) continue;
      std::vector<Blob> blobs{{u, v, R}};
      int k = static_cast<int>(r.below(3));
      for (int j = 0; j < k; ++j)
        blobs.push_back({u + r.normal(0.f, R * 0.5f), v + r.normal(0.f, R * 0.5f), R * r.uniform(0.4f, 0.8f)});
      draw_patch(f, blobs, rough, 0.45f, 0.05f, 0.55f, r.uniform(0.10f, 0.17f), grain, shape, opacity, 0, 0, 0);
    }
  }
}

}  // namespace

void render_lesions(const Anatomy& a, const Frame& f, const std::string& cls, Rng& rng, const Plane& lung,
                    Plane& shape, Plane& opacity) {
  if (cls == "PNEUMONIA") pneumonia(a, f, rng, lung, shape, opacity);
  if (cls == "COVID19") covid(a, f, rng, shape, opacity);
}

}  // namespace cxr::data::synth
