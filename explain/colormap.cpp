#include "explain/colormap.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// A piecewise-linear channel: (x, y) knots with increasing x from 0 to 1.
struct Knot {
  float x, y;
};

float piecewise(const Knot* k, int n, float v) {
  for (int i = 1; i < n; ++i)
    if (v <= k[i].x) {
      const float t = (v - k[i - 1].x) / (k[i].x - k[i - 1].x);
      return k[i - 1].y + t * (k[i].y - k[i - 1].y);
    }
  return k[n - 1].y;
}

// matplotlib's jet segment data (red, green, blue).
constexpr Knot kJetR[] = {{0.0f, 0.0f}, {0.35f, 0.0f}, {0.66f, 1.0f}, {0.89f, 1.0f}, {1.0f, 0.5f}};
constexpr Knot kJetG[] = {{0.0f, 0.0f}, {0.125f, 0.0f}, {0.375f, 1.0f}, {0.64f, 1.0f}, {0.91f, 0.0f}, {1.0f, 0.0f}};
constexpr Knot kJetB[] = {{0.0f, 0.5f}, {0.11f, 1.0f}, {0.34f, 1.0f}, {0.65f, 0.0f}, {1.0f, 0.0f}};

// Entries 0, 16, 32, ..., 240, 255 of the 256-entry tables (turbo: Google AI, Apache-2.0; inferno:
// matplotlib / BIDS, CC0). Knot i sits at x = 16 i / 255, the last at 1.
constexpr float kTurbo[17][3] = {
    {0.18995f, 0.07176f, 0.23217f}, {0.25107f, 0.25237f, 0.63374f}, {0.27628f, 0.42118f, 0.89123f},
    {0.25862f, 0.57958f, 0.99876f}, {0.15844f, 0.73551f, 0.92305f}, {0.09267f, 0.86554f, 0.76230f},
    {0.19659f, 0.94901f, 0.59466f}, {0.42778f, 0.99419f, 0.38575f}, {0.64362f, 0.98999f, 0.23356f},
    {0.80473f, 0.92452f, 0.20459f}, {0.93301f, 0.81236f, 0.22667f}, {0.99314f, 0.67408f, 0.20348f},
    {0.98360f, 0.49291f, 0.12849f}, {0.92105f, 0.31489f, 0.05475f}, {0.81608f, 0.18462f, 0.01809f},
    {0.66449f, 0.08436f, 0.00424f}, {0.47960f, 0.01583f, 0.01055f}};
constexpr float kInferno[17][3] = {
    {0.001462f, 0.000466f, 0.013866f}, {0.042253f, 0.028139f, 0.141141f}, {0.129285f, 0.047293f, 0.290788f},
    {0.238273f, 0.036621f, 0.396353f}, {0.341500f, 0.062325f, 0.429425f}, {0.441207f, 0.099338f, 0.431594f},
    {0.540920f, 0.134729f, 0.415123f}, {0.640135f, 0.171438f, 0.381065f}, {0.735683f, 0.215906f, 0.330245f},
    {0.822386f, 0.275197f, 0.266085f}, {0.894305f, 0.353399f, 0.193584f}, {0.946965f, 0.449191f, 0.115272f},
    {0.978422f, 0.557937f, 0.034931f}, {0.987874f, 0.675267f, 0.065257f}, {0.974638f, 0.797692f, 0.206332f},
    {0.947594f, 0.917399f, 0.410665f}, {0.988362f, 0.998364f, 0.644924f}};

void table_rgb(const float (*t)[3], float v, float rgb[3]) {
  const float pos = v * 255.0f / 16.0f;  // knot coordinate
  int i = std::min(15, static_cast<int>(pos));
  const float x0 = 16.0f * i / 255.0f, x1 = i == 15 ? 1.0f : 16.0f * (i + 1) / 255.0f;
  const float f = std::clamp((v - x0) / (x1 - x0), 0.0f, 1.0f);
  for (int c = 0; c < 3; ++c) rgb[c] = t[i][c] + f * (t[i + 1][c] - t[i][c]);
}

}  // namespace

const std::vector<std::string>& colormap_names() {
  static const std::vector<std::string> names = {"jet", "turbo", "inferno", "gray"};
  return names;
}

Colormap parse_colormap(const std::string& name) {
  if (name == "jet") return Colormap::Jet;
  if (name == "turbo") return Colormap::Turbo;
  if (name == "inferno") return Colormap::Inferno;
  if (name == "gray" || name == "grey") return Colormap::Gray;
  throw Error(str("unknown colormap '", name, "' (known: jet, turbo, inferno, gray)"));
}

const char* colormap_name(Colormap c) {
  switch (c) {
    case Colormap::Jet: return "jet";
    case Colormap::Turbo: return "turbo";
    case Colormap::Inferno: return "inferno";
    case Colormap::Gray: return "gray";
  }
  return "?";
}

void colormap_rgb(Colormap c, float v, float rgb[3]) {
  v = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
  switch (c) {
    case Colormap::Jet:
      rgb[0] = piecewise(kJetR, 5, v);
      rgb[1] = piecewise(kJetG, 6, v);
      rgb[2] = piecewise(kJetB, 5, v);
      return;
    case Colormap::Turbo: table_rgb(kTurbo, v, rgb); return;
    case Colormap::Inferno: table_rgb(kInferno, v, rgb); return;
    case Colormap::Gray: rgb[0] = rgb[1] = rgb[2] = v; return;
  }
}

Tensor apply_colormap(const Tensor& map, Colormap c) {
  check_dims(map, 2, "apply_colormap");
  const int64_t n = map.numel();
  Tensor out = Tensor::empty({3, map.size(0), map.size(1)});
  const float* m = map.data();
  float* o = out.data();
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    float rgb[3] = {0.0f, 0.0f, 0.0f};
    colormap_rgb(c, m[i], rgb);
    o[i] = rgb[0];
    o[n + i] = rgb[1];
    o[2 * n + i] = rgb[2];
  }
  return out;
}

}  // namespace cxr
