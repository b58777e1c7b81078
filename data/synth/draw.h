// Drawing primitives of the synthetic X-ray generator (internal to data/synth/*.cpp).
//
// Everything is drawn in normalised anatomy coordinates: u (left to right) and v (top to bottom), with the
// final image covering [0, 1] x [0, 1]. The canvas is larger than the image by a margin on every side, so the
// random pose (rotation, zoom, shift) applied at the end never looks past its edge. Primitives ADD their
// attenuation into a plane, as overlapping tissues add up along an X-ray's path.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace cxr::data::synth {

inline float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float smoothstep(float e0, float e1, float x) {
  float t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3.f - 2.f * t);
}
inline float lerp(float a, float b, float t) { return a + (b - a) * t; }

// A float image of the canvas; also used for the final image (margin 0).
struct Plane {
  int w = 0, h = 0;
  std::vector<float> px;
  void reset(int width, int height) {
    w = width;
    h = height;
    px.assign(static_cast<size_t>(w) * h, 0.f);
  }
  float* row(int y) { return px.data() + static_cast<size_t>(y) * w; }
  const float* row(int y) const { return px.data() + static_cast<size_t>(y) * w; }
};

// Maps anatomy coordinates to canvas pixels: u = (x - margin + 0.5) / size.
struct Frame {
  int size = 0;    // pixels of the final image side
  int margin = 0;  // canvas pixels beyond the image on each side
  int side() const { return size + 2 * margin; }
  float u(int x) const { return (x - margin + 0.5f) / size; }
  float px(float u) const { return u * size + margin - 0.5f; }  // fractional pixel of coordinate u
  float scale() const { return static_cast<float>(size); }      // pixels per unit
  int lo(float u) const;  // first canvas pixel at or after u - a pixel, clamped
  int hi(float u) const;  // last canvas pixel at or before u + a pixel, clamped
};

// A bone drawn along a curve v = c0 + c1 t + c2 t^2 + c3 t^3 for u = ua + t (ub - ua), t in [0, 1].
// Across the band it has the profile of a hollow tube (bright cortex, fainter marrow): ribs and clavicles.
struct Band {
  float ua = 0, ub = 0;
  float c[4] = {0, 0, 0, 0};
  float half = 0.01f;       // half thickness, perpendicular to the curve
  float density = 0.2f;     // attenuation at the centre of a solid band
  float inner = 0.7f;       // marrow radius / outer radius (0 = solid)
  float marrow = 0.5f;      // marrow density relative to cortex
  float fade_a = 0.f, fade_b = 0.f;  // fraction of t over which the band fades in at ua and out at ub
};
void draw_band(Plane& p, const Frame& f, const Band& b);

// A tapered tube from (u0, v0) (radius r0) to (u1, v1) (radius r1); its attenuation is scaled by `mask`
// (a canvas plane, e.g. the soft lung map) when given. Vessels, bronchi, the trachea.
void draw_segment(Plane& p, const Frame& f, float u0, float v0, float u1, float v1, float r0, float r1,
                  float density, const Plane* mask = nullptr);

// A solid ellipsoid seen from the front: thickness profile sqrt(1 - q^2) inside the ellipse
// ((x/a)^2 + (y/b)^2 = q^2 in the frame rotated by `angle`), scaled by `density`; `power` sharpens the edge.
void draw_ellipsoid(Plane& p, const Frame& f, float cu, float cv, float a, float b, float angle, float density,
                    float power = 0.5f, const Plane* mask = nullptr);

// Smooth random texture: value noise on a coarse lattice over the canvas, cubic-interpolated.
struct ValueNoise {
  int cells = 8;
  std::vector<float> grid;  // (cells + 1)^2 values in [-1, 1]
  void init(int cells_per_side, Rng& rng);
  // x, y in canvas pixels, canvas side `side`.
  float at(float x, float y, int side) const;
};

// Separable Gaussian blur in place (sigma in pixels; <= 0.2 does nothing). tmp is scratch.
void blur(Plane& p, float sigma, std::vector<float>& tmp);

// An approximately normal random number from one 64-bit draw (sum of four 16-bit uniforms, variance 1):
// far cheaper than Box-Muller for per-pixel noise.
inline float fast_normal(uint64_t r) {
  float s = static_cast<float>(r & 0xffff) + static_cast<float>((r >> 16) & 0xffff) +
            static_cast<float>((r >> 32) & 0xffff) + static_cast<float>(r >> 48);
  return (s * (1.f / 65536.f) - 2.f) * 1.7320508f;
}

}  // namespace cxr::data::synth
