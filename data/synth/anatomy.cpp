// The normal anatomy of a synthetic PA chest radiograph, as attenuation: a soft-tissue body whose lungs are
// mostly air, ribs, clavicles, spine, heart, aortic knob, trachea, hila and branching vessels.
#include <algorithm>
#include <cmath>

#include "data/synth/parts.h"

namespace cxr::data::synth {

void sample_anatomy(Anatomy& a, Rng& r, float difficulty) {
  a.cx = 0.5f + std::clamp(r.normal(0.f, 0.012f), -0.03f, 0.03f);
  a.body_hw = r.uniform(0.40f, 0.50f);
  a.neck_hw = r.uniform(0.09f, 0.12f);
  a.shoulder_v = r.uniform(0.08f, 0.16f);
  a.lung_depth = r.uniform(0.55f, 0.70f);
  float apex = r.uniform(0.08f, 0.13f), lat = a.body_hw * r.uniform(0.78f, 0.86f);
  float dome = r.uniform(0.64f, 0.73f);
  for (int s = 0; s < 2; ++s) {
    Lung& l = a.lung[s];
    l.apex_v = apex + r.uniform(-0.01f, 0.01f);
    l.apex_off = r.uniform(0.11f, 0.15f);
    l.lat_w = lat + r.uniform(-0.012f, 0.012f);
    l.round_lat = r.uniform(0.28f, 0.40f);
    l.round_med = r.uniform(0.08f, 0.14f);
    l.med_w = r.uniform(0.045f, 0.06f);
    // The right hemidiaphragm (image left) sits higher than the left, by 1.5 to 4.5% of the image.
    l.dome_v = s == 0 ? dome : dome + r.uniform(0.015f, 0.045f);
    l.dome_peak = l.lat_w * r.uniform(0.40f, 0.55f);
    float depth = r.uniform(0.08f, 0.13f);  // how far the costophrenic angle lies below the dome
    l.dome_k = depth / ((l.lat_w - l.dome_peak) * (l.lat_w - l.dome_peak));
  }
  a.heart_a = r.uniform(0.17f, 0.21f);
  a.heart_b = r.uniform(0.11f, 0.14f);
  a.heart_u = a.cx + r.uniform(0.055f, 0.085f);
  a.heart_v = a.lung[1].dome_v - a.heart_b * r.uniform(0.25f, 0.5f);
  a.heart_angle = r.uniform(0.2f, 0.5f);  // long axis down towards the patient's left (image right)
  a.heart_cos = std::cos(a.heart_angle);
  a.heart_sin = std::sin(a.heart_angle);
  a.heart_density = r.uniform(0.06f, 0.12f);
  a.knob_u = a.cx + r.uniform(0.05f, 0.07f);
  a.knob_v = r.uniform(0.26f, 0.32f);
  a.knob_r = r.uniform(0.026f, 0.036f);
  a.carina_v = r.uniform(0.30f, 0.36f);
  a.spine_hw = r.uniform(0.032f, 0.042f);
  a.vert_h = r.uniform(0.045f, 0.055f);
  a.vert_phase = r.uniform(0.f, 1.f);
  a.rib_v0 = apex + r.uniform(-0.04f, -0.015f);
  a.rib_spacing = (dome - apex) * r.uniform(0.105f, 0.12f);
  a.vessel_scale = 1.f + difficulty * r.uniform(0.f, 0.8f);
  a.breasts = r.bernoulli(0.25f + 0.35f * difficulty);
  a.nipples = r.bernoulli(0.10f + 0.35f * difficulty);
  a.gastric_bubble = r.bernoulli(0.6f);
}

float lung_lateral(const Anatomy& a, int side, float v) {
  const Lung& l = a.lung[side];
  float r = v - l.apex_v;
  if (r <= 0.f) return 0.f;
  float rl = std::min(r / l.round_lat, 1.f);
  return (l.apex_off + (l.lat_w - l.apex_off) * std::sqrt(rl)) * (1.f + 0.06f * r);
}

float lung_margin(const Anatomy& a, int side, float u, float v) {
  const Lung& l = a.lung[side];
  float dx = (u - a.cx) * sgn(side);
  float r = v - l.apex_v;
  float m = r;
  m = std::min(m, lung_lateral(a, side, v) - dx);
  float rm = std::clamp(r / l.round_med, 0.f, 1.f);
  float med = l.apex_off - (l.apex_off - l.med_w) * std::sqrt(rm);
  if (side == 1) {  // the aortic knob: a smooth bulge of the upper left mediastinal border
    float kv = (v - a.knob_v) / (2.f * a.knob_r);
    med = std::max(med, a.knob_u - a.cx + a.knob_r * std::exp(-kv * kv) - 0.6f * a.knob_r);
  }
  m = std::min(m, dx - med);
  float dd = dx - l.dome_peak;
  m = std::min(m, l.dome_v + l.dome_k * dd * dd - v);
  // The heart and the aortic knob push the lung aside.
  float hu = u - a.heart_u, hv = v - a.heart_v;
  float c = a.heart_cos, s = a.heart_sin;
  float xr = (c * hu + s * hv) / a.heart_a, yr = (-s * hu + c * hv) / a.heart_b;
  m = std::min(m, (std::sqrt(xr * xr + yr * yr) - 1.f) * std::min(a.heart_a, a.heart_b));
  return m;
}

// Body, lungs, lung texture, abdomen and spine: the per-pixel fields.
static void render_fields(const Anatomy& a, const Frame& f, Rng& rng, Plane& atten, Plane& lung) {
  const int n = f.side();
  const float aa = 1.5f / f.scale();  // anti-aliasing width of the lung edge: 1.5 px
  ValueNoise coarse, fine;
  coarse.init(9, rng);
  fine.init(23, rng);
  const float tex = rng.uniform(0.04f, 0.07f);
  const float abdomen = rng.uniform(0.05f, 0.12f);
  const float spine_mu = rng.uniform(0.16f, 0.24f);
  for (int y = 0; y < n; ++y) {
    const float v = f.u(y);
    float hw = a.neck_hw + (a.body_hw - a.neck_hw) * smoothstep(a.shoulder_v - 0.16f, a.shoulder_v, v);
    hw *= 1.f + 0.05f * v;
    const float inv_hw = 1.f / hw;
    // Vertebrae: bodies separated by darker disc spaces.
    float ph = (v - a.vert_phase) / a.vert_h;
    ph -= std::floor(ph);
    const float vert = 0.7f + 0.3f * smoothstep(0.f, 0.15f, ph) * smoothstep(0.f, 0.15f, 0.85f - ph);
    const float lat0 = lung_lateral(a, 0, v), lat1 = lung_lateral(a, 1, v);
    float* arow = atten.row(y);
    float* lrow = lung.row(y);
    for (int x = 0; x < n; ++x) {
      const float u = f.u(x);
      const float dx = u - a.cx;
      float q = dx * inv_hw;
      float t = q * q < 1.f ? std::sqrt(1.f - q * q) : 0.f;  // body thickness (a cylinder)
      float ls = 0.f, m = -1.f;
      int side = dx < 0.f ? 0 : 1;
      float lat = side == 0 ? lat0 : lat1;
      if (lat > 0.f && std::fabs(dx) < lat + aa) {
        m = lung_margin(a, side, u, v);
        ls = smoothstep(-aa, aa, m);
      }
      float att = t;
      if (ls > 0.f) {
        // Air replaces tissue; the lungs are thinner (less dark) close to their edges.
        float air = ls * a.lung_depth * (0.75f + 0.25f * smoothstep(0.f, 0.06f, m));
        float fx = static_cast<float>(x), fy = static_cast<float>(y);
        float texture = coarse.at(fx, fy, n) + 0.6f * fine.at(fx, fy, n);
        att = t * (1.f - air) + ls * tex * texture;
      } else {
        // Below the diaphragm: liver and abdomen, denser than the thorax.
        const Lung& l = a.lung[side];
        float dd = std::fabs(dx) - l.dome_peak;
        float below = v - (l.dome_v + l.dome_k * dd * dd);
        att += abdomen * t * smoothstep(-0.01f, 0.06f, below);
      }
      float sq = dx / a.spine_hw;
      if (sq * sq < 1.f) att += spine_mu * vert * std::sqrt(1.f - sq * sq);
      arow[x] = att;
      lrow[x] = ls;
    }
  }
}

// Posterior and anterior ribs and the clavicles of one side.
static void render_ribs(const Anatomy& a, const Frame& f, Rng& r, int side, Plane& atten) {
  const float s = sgn(side);
  const float post_mu = r.uniform(0.10f, 0.16f), ant_mu = post_mu * r.uniform(0.35f, 0.6f);
  for (int k = 0; k < 11; ++k) {
    float v0 = a.rib_v0 + k * a.rib_spacing * (1.f + 0.04f * k) + r.uniform(-0.004f, 0.004f);
    float lat = std::max(lung_lateral(a, side, v0 + 0.05f), a.lung[side].apex_off) + 0.03f;
    // Posterior rib: from the spine, first slightly up, then curving down to the lateral chest wall.
    Band post;
    post.ua = a.cx + s * 0.025f;
    post.ub = a.cx + s * lat;
    float drop = r.uniform(0.10f, 0.15f) + 0.03f * (k < 2 ? 2 - k : 0);
    float rise = r.uniform(0.04f, 0.07f);
    post.c[0] = v0;
    post.c[1] = -rise;
    post.c[2] = drop * 0.3f + rise;
    post.c[3] = drop * 0.7f;
    post.half = r.uniform(0.010f, 0.013f);
    post.density = post_mu;
    post.inner = 0.65f;
    post.marrow = 0.45f;
    post.fade_a = 0.05f;
    draw_band(atten, f, post);
    // Anterior rib: from the lateral wall down and in towards the sternum, fading into cartilage.
    Band ant;
    float v_end = v0 + drop;
    ant.ua = post.ub;
    ant.ub = a.cx + s * lat * r.uniform(0.30f, 0.45f);
    ant.c[0] = v_end - 0.01f;
    ant.c[1] = r.uniform(0.09f, 0.14f);
    ant.c[2] = -0.02f;
    ant.half = r.uniform(0.011f, 0.015f);
    ant.density = ant_mu;
    ant.inner = 0.5f;
    ant.marrow = 0.6f;
    ant.fade_a = 0.08f;
    ant.fade_b = 0.35f;
    draw_band(atten, f, ant);
  }
  Band clav;
  float vc = a.shoulder_v + r.uniform(0.02f, 0.07f);
  clav.ua = a.cx + s * r.uniform(0.035f, 0.05f);
  clav.ub = a.cx + s * r.uniform(0.26f, 0.33f);
  float rise = r.uniform(0.02f, 0.06f), wave = r.uniform(0.01f, 0.025f);
  clav.c[0] = vc;
  clav.c[1] = -rise + wave * 2.f;
  clav.c[2] = -wave * 5.f;
  clav.c[3] = wave * 3.f;
  clav.half = r.uniform(0.013f, 0.017f);
  clav.density = r.uniform(0.22f, 0.32f);
  clav.inner = 0.6f;
  clav.marrow = 0.5f;
  clav.fade_b = 0.1f;
  draw_band(atten, f, clav);
}

// One vessel and its branches, thinner and shorter at each split.
static void vessel_tree(const Frame& f, Rng& r, Plane& atten, const Plane& lung, float u, float v, float ang,
                        float len, float rad, float mu, int depth) {
  // Two slightly bent halves: vessels curve.
  float um = u + std::cos(ang) * len * 0.5f, vm = v + std::sin(ang) * len * 0.5f;
  ang += r.uniform(-0.25f, 0.25f);
  float u1 = um + std::cos(ang) * len * 0.5f, v1 = vm + std::sin(ang) * len * 0.5f;
  draw_segment(atten, f, u, v, um, vm, rad, rad * 0.9f, mu * rad, &lung);
  draw_segment(atten, f, um, vm, u1, v1, rad * 0.9f, rad * 0.8f, mu * rad * 0.9f, &lung);
  if (depth == 0) return;
  int kids = r.bernoulli(0.3f) ? 3 : 2;
  for (int i = 0; i < kids; ++i) {
    float da = r.uniform(0.25f, 0.6f) * (i % 2 == 0 ? 1.f : -1.f) * (i == 2 ? 0.3f : 1.f);
    vessel_tree(f, r, atten, lung, u1, v1, ang + da, len * r.uniform(0.6f, 0.8f), rad * r.uniform(0.62f, 0.75f),
                mu, depth - 1);
  }
}

static void render_hila_and_vessels(const Anatomy& a, const Frame& f, Rng& r, int side, Plane& atten,
                                    const Plane& lung) {
  const float s = sgn(side);
  const Lung& l = a.lung[side];
  float hu = a.cx + s * (l.med_w + r.uniform(0.035f, 0.055f)), hv = r.uniform(0.38f, 0.46f);
  draw_ellipsoid(atten, f, hu, hv, r.uniform(0.025f, 0.035f), r.uniform(0.045f, 0.06f), 0.f,
                 r.uniform(0.08f, 0.14f), 0.5f, &lung);
  int primaries = static_cast<int>(std::lround(r.uniform(8.f, 12.f) * a.vessel_scale));
  float mu = r.uniform(10.f, 15.f) * std::sqrt(a.vessel_scale);
  for (int i = 0; i < primaries; ++i) {
    // Directions spread from up-and-out to down-and-out, more of them downwards (the lower lobes).
    float th = r.uniform(-1.3f, 1.6f);
    float ang = side == 1 ? th : 3.14159265f - th;
    float len = r.uniform(0.07f, 0.12f) * (th > 0.f ? 1.2f : 1.f);
    vessel_tree(f, r, atten, lung, hu, hv, ang, len, r.uniform(0.004f, 0.006f), mu, 3);
  }
}

static void render_mediastinum(const Anatomy& a, const Frame& f, Rng& r, Plane& atten) {
  // Great vessels and mediastinal soft tissue above the heart, then the heart itself.
  draw_segment(atten, f, a.cx, 0.02f, a.cx + 0.01f, a.heart_v, r.uniform(0.06f, 0.075f), a.heart_b * 0.8f,
               r.uniform(0.04f, 0.08f));
  draw_ellipsoid(atten, f, a.heart_u, a.heart_v, a.heart_a, a.heart_b, a.heart_angle, a.heart_density);
  draw_ellipsoid(atten, f, a.knob_u, a.knob_v, a.knob_r, 1.5f * a.knob_r, 0.f, 0.06f);
  // Trachea and main bronchi: air columns, darker than the mediastinum around them.
  float tr = r.uniform(0.014f, 0.019f), tair = -r.uniform(0.12f, 0.2f);
  float cu = a.cx + r.uniform(-0.008f, 0.008f);
  draw_segment(atten, f, a.cx, -0.1f, cu, a.carina_v, tr, tr, tair);
  draw_segment(atten, f, cu, a.carina_v, cu - r.uniform(0.05f, 0.07f), a.carina_v + r.uniform(0.05f, 0.07f),
               tr * 0.75f, tr * 0.6f, tair);
  draw_segment(atten, f, cu, a.carina_v, cu + r.uniform(0.07f, 0.09f), a.carina_v + r.uniform(0.04f, 0.06f),
               tr * 0.7f, tr * 0.55f, tair);
}

static void render_distractors(const Anatomy& a, const Frame& f, Rng& r, Plane& atten) {
  if (a.gastric_bubble) {
    const Lung& l = a.lung[1];
    draw_ellipsoid(atten, f, a.cx + l.dome_peak + r.uniform(-0.03f, 0.03f), l.dome_v + r.uniform(0.05f, 0.08f),
                   r.uniform(0.035f, 0.06f), r.uniform(0.02f, 0.035f), 0.f, -r.uniform(0.1f, 0.2f));
  }
  if (a.breasts) {
    float mu = r.uniform(0.05f, 0.12f), du = r.uniform(0.2f, 0.27f), dv = r.uniform(0.0f, 0.05f);
    float ra = r.uniform(0.14f, 0.2f), rb = r.uniform(0.10f, 0.14f);
    for (int s = 0; s < 2; ++s)
      draw_ellipsoid(atten, f, a.cx + sgn(s) * du, a.lung[s].dome_v - dv, ra, rb, 0.f, mu, 1.0f);
  }
  if (a.nipples) {
    float mu = r.uniform(0.08f, 0.15f), rr = r.uniform(0.008f, 0.013f);
    float du = r.uniform(0.2f, 0.28f), dv = r.uniform(0.58f, 0.68f);
    for (int s = 0; s < 2; ++s)
      draw_ellipsoid(atten, f, a.cx + sgn(s) * (du + r.uniform(-0.01f, 0.01f)), dv + r.uniform(-0.01f, 0.01f),
                     rr, rr, 0.f, mu);
  }
}

void render_anatomy(const Anatomy& a, const Frame& f, Rng& rng, Plane& atten, Plane& lung) {
  render_fields(a, f, rng, atten, lung);
  render_mediastinum(a, f, rng, atten);
  for (int s = 0; s < 2; ++s) render_ribs(a, f, rng, s, atten);
  for (int s = 0; s < 2; ++s) render_hila_and_vessels(a, f, rng, s, atten, lung);
  render_distractors(a, f, rng, atten);
}

}  // namespace cxr::data::synth
