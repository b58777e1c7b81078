// The parts of a synthetic chest X-ray (internal to data/synth/*.cpp): anatomy, lesions and the marker.
//
// Sides: side 0 is the image LEFT (the patient's right lung), side 1 the image right (patient's left).
// sgn(side) is -1 / +1: the direction away from the midline.
#pragma once
#include <string>

#include "core/rng.h"
#include "data/synth/draw.h"

namespace cxr::data::synth {

inline float sgn(int side) { return side == 0 ? -1.f : 1.f; }

struct Lung {
  float apex_v;     // top of the lung
  float apex_off;   // distance of the apex from the midline
  float lat_w;      // widest lateral extent from the midline
  float round_lat;  // how far below the apex the lateral edge reaches lat_w (rounded apex)
  float round_med;  // same for the medial edge reaching the mediastinum
  float med_w;      // mediastinal half width on this side
  float dome_v;     // top of the diaphragm dome
  float dome_peak;  // distance of the dome's top from the midline
  float dome_k;     // curvature: the dome falls by dome_k * d^2 at distance d from its top
};

struct Anatomy {
  float cx;                                 // midline
  float body_hw, neck_hw, shoulder_v;       // body outline
  float lung_depth;                         // fraction of the body's thickness that is air in the lungs
  Lung lung[2];
  float heart_u, heart_v, heart_a, heart_b, heart_angle, heart_cos, heart_sin, heart_density;
  float knob_u, knob_v, knob_r;             // aortic knob
  float carina_v;
  float spine_hw, vert_h, vert_phase;
  float rib_v0, rib_spacing;
  float vessel_scale;                       // > 1: crowded vessels (a distractor)
  bool breasts, nipples, gastric_bubble;
};

// Draws the anatomy's random parameters. difficulty raises the odds of distractors.
void sample_anatomy(Anatomy& a, Rng& rng, float difficulty);

// Signed margin (anatomy units) of point (u, v) inside the lung of one side: > 0 inside, < 0 outside.
float lung_margin(const Anatomy& a, int side, float u, float v);

// Width of the lung of one side at height v (its lateral extent from the midline; 0 above the apex).
float lung_lateral(const Anatomy& a, int side, float v);

// Renders the attenuation of the anatomy into `atten` and the soft lung map (0..1) into `lung`, both
// already sized to the canvas.
void render_anatomy(const Anatomy& a, const Frame& f, Rng& rng, Plane& atten, Plane& lung);

// Renders the lesions of class `cls` ("PNEUMONIA" or "COVID19"): `shape` (0..1, thresholded at 0.5 for the
// mask) and `opacity` (attenuation, before the lesion contrast), both canvas-sized and zeroed.
void render_lesions(const Anatomy& a, const Frame& f, const std::string& cls, Rng& rng, const Plane& lung,
                    Plane& shape, Plane& opacity);

// Burns a marker tag into the final image (size x size) and sets its pixels in `mask`.
void draw_marker(Plane& image, Plane& mask, Rng& rng);

}  // namespace cxr::data::synth
