#include "data/synth/draw.h"

#include <algorithm>

namespace cxr::data::synth {

int Frame::lo(float uu) const {
  int x = static_cast<int>(std::floor(px(uu))) - 1;
  return std::clamp(x, 0, side() - 1);
}
int Frame::hi(float uu) const {
  int x = static_cast<int>(std::ceil(px(uu))) + 1;
  return std::clamp(x, 0, side() - 1);
}

void draw_band(Plane& p, const Frame& f, const Band& b) {
  const float du = b.ub - b.ua;
  if (std::fabs(du) < 1e-6f) return;
  const float norm = 1.f / ((1.f - b.inner) + b.marrow * b.inner);  // centre of the band = density
  const float in2 = b.inner * b.inner;
  int x0 = f.lo(std::min(b.ua, b.ub)), x1 = f.hi(std::max(b.ua, b.ub));
  for (int x = x0; x <= x1; ++x) {
    float t = (f.u(x) - b.ua) / du;
    if (t < 0.f || t > 1.f) continue;
    float v = b.c[0] + t * (b.c[1] + t * (b.c[2] + t * b.c[3]));
    float slope = (b.c[1] + t * (2.f * b.c[2] + 3.f * t * b.c[3])) / du;
    // The band's vertical extent grows as the curve steepens, so its perpendicular thickness stays `half`.
    float hv = b.half * std::sqrt(1.f + slope * slope);
    float fade = 1.f;
    if (b.fade_a > 0.f) fade *= smoothstep(0.f, b.fade_a, t);
    if (b.fade_b > 0.f) fade *= smoothstep(0.f, b.fade_b, 1.f - t);
    float amp = b.density * fade * norm;
    if (amp <= 0.f) continue;
    int y0 = f.lo(v - hv), y1 = f.hi(v + hv);
    float inv = 1.f / hv;
    for (int y = y0; y <= y1; ++y) {
      float d = (f.u(y) - v) * inv;
      float d2 = d * d;
      if (d2 >= 1.f) continue;
      float outer = std::sqrt(1.f - d2);
      float marrow = d2 < in2 ? std::sqrt(in2 - d2) : 0.f;
      p.row(y)[x] += amp * (outer - marrow + b.marrow * marrow);
    }
  }
}

void draw_segment(Plane& p, const Frame& f, float u0, float v0, float u1, float v1, float r0, float r1,
                  float density, const Plane* mask) {
  // A tube thinner than a pixel would alias away: widen it to 0.6 px and lower its density to match.
  const float min_r = 0.6f / f.scale();
  float rmax = std::max(std::max(r0, r1), min_r);
  int x0 = f.lo(std::min(u0, u1) - rmax), x1 = f.hi(std::max(u0, u1) + rmax);
  int y0 = f.lo(std::min(v0, v1) - rmax), y1 = f.hi(std::max(v0, v1) + rmax);
  float du = u1 - u0, dv = v1 - v0;
  float len2 = du * du + dv * dv;
  float inv_len2 = len2 > 0.f ? 1.f / len2 : 0.f;
  for (int y = y0; y <= y1; ++y) {
    float vy = f.u(y) - v0;
    float* row = p.row(y);
    const float* mrow = mask ? mask->row(y) : nullptr;
    for (int x = x0; x <= x1; ++x) {
      float ux = f.u(x) - u0;
      float t = clamp01((ux * du + vy * dv) * inv_len2);
      float ex = ux - t * du, ey = vy - t * dv;
      float d2 = ex * ex + ey * ey;
      float r = r0 + (r1 - r0) * t;
      float amp = density;
      if (r < min_r) {
        amp *= r / min_r;
        r = min_r;
      }
      float q = d2 / (r * r);
      if (q >= 1.f) continue;
      float val = amp * std::sqrt(1.f - q);
      row[x] += mrow ? val * mrow[x] : val;
    }
  }
}

void draw_ellipsoid(Plane& p, const Frame& f, float cu, float cv, float a, float b, float angle, float density,
                    float power, const Plane* mask) {
  float r = std::max(a, b);
  int x0 = f.lo(cu - r), x1 = f.hi(cu + r), y0 = f.lo(cv - r), y1 = f.hi(cv + r);
  float c = std::cos(angle), s = std::sin(angle);
  float ia = 1.f / a, ib = 1.f / b;
  bool root = power == 0.5f;
  for (int y = y0; y <= y1; ++y) {
    float dy = f.u(y) - cv;
    float* row = p.row(y);
    const float* mrow = mask ? mask->row(y) : nullptr;
    for (int x = x0; x <= x1; ++x) {
      float dx = f.u(x) - cu;
      float xr = (c * dx + s * dy) * ia, yr = (-s * dx + c * dy) * ib;
      float q2 = xr * xr + yr * yr;
      if (q2 >= 1.f) continue;
      float val = density * (root ? std::sqrt(1.f - q2) : std::pow(1.f - q2, power));
      row[x] += mrow ? val * mrow[x] : val;
    }
  }
}

void ValueNoise::init(int cells_per_side, Rng& rng) {
  cells = cells_per_side;
  grid.resize(static_cast<size_t>(cells + 1) * (cells + 1));
  for (auto& g : grid) g = rng.uniform(-1.f, 1.f);
}

float ValueNoise::at(float x, float y, int side) const {
  float gx = std::clamp(x / side, 0.f, 0.99999f) * cells, gy = std::clamp(y / side, 0.f, 0.99999f) * cells;
  int ix = static_cast<int>(gx), iy = static_cast<int>(gy);
  float fx = gx - ix, fy = gy - iy;
  fx = fx * fx * (3.f - 2.f * fx);
  fy = fy * fy * (3.f - 2.f * fy);
  const float* g0 = grid.data() + static_cast<size_t>(iy) * (cells + 1) + ix;
  const float* g1 = g0 + cells + 1;
  float top = g0[0] + (g0[1] - g0[0]) * fx, bot = g1[0] + (g1[1] - g1[0]) * fx;
  return top + (bot - top) * fy;
}

void blur(Plane& p, float sigma, std::vector<float>& tmp) {
  if (sigma <= 0.2f) return;
  int r = std::max(1, static_cast<int>(std::ceil(2.5f * sigma)));
  float k[64];
  r = std::min(r, 31);
  float sum = 0.f;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5f * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * r; ++i) k[i] /= sum;
  const int w = p.w, h = p.h;
  // Horizontal pass into tmp, through an edge-replicated copy of the row.
  tmp.resize(static_cast<size_t>(w) * h + w + 2 * r);
  float* pad = tmp.data() + static_cast<size_t>(w) * h;
  for (int y = 0; y < h; ++y) {
    const float* src = p.row(y);
    for (int x = -r; x < w + r; ++x) pad[x + r] = src[std::clamp(x, 0, w - 1)];
    float* dst = tmp.data() + static_cast<size_t>(y) * w;
    for (int x = 0; x < w; ++x) {
      float acc = 0.f;
      for (int i = 0; i <= 2 * r; ++i) acc += k[i] * pad[x + i];
      dst[x] = acc;
    }
  }
  // Vertical pass back into p, a whole row at a time (vectorises across x).
  for (int y = 0; y < h; ++y) {
    float* dst = p.row(y);
    std::fill(dst, dst + w, 0.f);
    for (int i = -r; i <= r; ++i) {
      const float* src = tmp.data() + static_cast<size_t>(std::clamp(y + i, 0, h - 1)) * w;
      float ki = k[i + r];
      for (int x = 0; x < w; ++x) dst[x] += ki * src[x];
    }
  }
}

}  // namespace cxr::data::synth
