// image/augment: Keras-style random affine + intensity augmentation.
#include <gtest/gtest.h>

#include <cmath>

#include "image/augment.h"

using namespace cxr;
using namespace cxr::image;

static Tensor random_image(int64_t c, int64_t h, int64_t w, uint64_t seed) {
  Tensor t = Tensor::empty({c, h, w});
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.uniform();
  return t;
}

// A black image with one white pixel.
static Tensor marker(int64_t h, int64_t w, int64_t y, int64_t x) {
  Tensor t = Tensor::zeros({1, h, w});
  t.at({0, y, x}) = 1.0f;
  return t;
}

// Centre of mass (x, y) and total mass of channel 0.
struct Moments {
  double x = 0, y = 0, mass = 0;
};
static Moments moments(const Tensor& t) {
  Moments m;
  for (int64_t y = 0; y < t.size(1); ++y)
    for (int64_t x = 0; x < t.size(2); ++x) {
      double v = t.at({0, y, x});
      m.mass += v;
      m.x += v * x;
      m.y += v * y;
    }
  m.x /= m.mass;
  m.y /= m.mass;
  return m;
}

TEST(Augment, IdentityIsExact) {
  Tensor img = random_image(3, 13, 17, 1);
  Rng rng(5);
  Tensor same = augment(img, AugmentParams::none(), rng);
  for (int64_t i = 0; i < img.numel(); ++i) ASSERT_EQ(same[i], img[i]);
  // The full affine path with a zero draw is exact too (bilinear weights of exactly 0 and 1).
  Tensor warped = warp_affine(img, affine_of(AugmentDraw{}, 17, 13));
  EXPECT_FALSE(warped.shares_storage_with(img));
  for (int64_t i = 0; i < img.numel(); ++i) ASSERT_EQ(warped[i], img[i]) << i;
}

TEST(Augment, DefaultAffineIsTheIdentity) {
  Affine a;
  const double want[6] = {1, 0, 0, 0, 1, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.m[i], want[i]) << i;
  Affine z = affine_of(AugmentDraw{}, 8, 8);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(z.m[i], want[i]) << i;
}

TEST(Augment, IntegerShiftMovesMarkerExactly) {
  Tensor img = marker(17, 21, 6, 5);
  AugmentDraw d;
  d.shift_x = 3;   // right
  d.shift_y = -2;  // up
  Tensor out = warp_affine(img, affine_of(d, 21, 17));
  for (int64_t y = 0; y < 17; ++y)
    for (int64_t x = 0; x < 21; ++x) ASSERT_EQ(out.at({0, y, x}), (y == 4 && x == 8) ? 1.0f : 0.0f) << x << "," << y;
}

TEST(Augment, RandomShiftMovesMassByTheDrawnShift) {
  // width_shift_range=0.1 on a 40-px image: the content moves by up to 4 px; bilinear sampling keeps the
  // centre of mass of an interior marker exactly at marker + shift.
  AugmentParams p;
  p.width_shift_range = 0.1f;
  p.height_shift_range = 0.1f;
  Tensor img = marker(30, 40, 15, 20);
  bool saw_fractional = false;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Rng a(seed), b(seed);
    AugmentDraw d = draw_augment(p, a, 40, 30);
    EXPECT_LE(std::abs(d.shift_x), 4.0f);
    EXPECT_LE(std::abs(d.shift_y), 3.0f);
    Tensor out = augment(img, p, b);
    Moments m = moments(out);
    EXPECT_NEAR(m.mass, 1.0, 1e-5);
    EXPECT_NEAR(m.x, 20 + d.shift_x, 1e-4);
    EXPECT_NEAR(m.y, 15 + d.shift_y, 1e-4);
    if (std::abs(d.shift_x - std::round(d.shift_x)) > 0.1f) saw_fractional = true;
  }
  EXPECT_TRUE(saw_fractional);
}

TEST(Augment, ShiftRangeFromOnePixelUpIsInPixels) {
  AugmentParams p;
  p.width_shift_range = 2.0f;  // Keras: >= 1 means pixels
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng r(seed);
    EXPECT_LE(std::abs(draw_augment(p, r, 1000, 1000).shift_x), 2.0f);
  }
}

TEST(Augment, ZoomRotationShearKeepTheCentre) {
  // 31 x 31: the centre (15, 15) is a pixel. A marker there stays there under any zoom/rotation/shear/flip.
  Tensor img = marker(31, 31, 15, 15);
  AugmentParams p;
  p.rotation_range = 45;
  p.zoom_range = 0.5f;
  p.shear_range = 20;
  p.horizontal_flip = true;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    Rng r(seed);
    Tensor out = augment(img, p, r);
    EXPECT_NEAR(out.at({0, 15, 15}), 1.0f, 1e-6) << "seed " << seed;
    Affine m = affine_of(draw_augment(p, r, 31, 31), 31, 31);
    EXPECT_NEAR(m.m[0] * 15 + m.m[1] * 15 + m.m[2], 15.0, 1e-4);
    EXPECT_NEAR(m.m[3] * 15 + m.m[4] * 15 + m.m[5], 15.0, 1e-4);
  }
}

TEST(Augment, RotationTurnsCounterClockwise) {
  // A marker 5 px right of the centre, turned 90 degrees counter-clockwise on screen, ends 5 px above it.
  Tensor img = marker(31, 31, 15, 20);
  AugmentDraw d;
  d.angle_deg = 90;
  Tensor out = warp_affine(img, affine_of(d, 31, 31));
  Moments m = moments(out);
  EXPECT_NEAR(m.x, 15.0, 1e-3);
  EXPECT_NEAR(m.y, 10.0, 1e-3);
  EXPECT_NEAR(out.at({0, 10, 15}), 1.0f, 1e-5);
}

TEST(Augment, ZoomAboveOneShrinksTheContent) {
  // Keras's meaning: a zoom factor of 2 samples the input 2 px per output px, so a marker 6 px from the
  // centre appears 3 px from it; 0.5 magnifies (the marker would leave a 31-px frame from 12 px away).
  Tensor img = marker(31, 31, 15, 21);
  AugmentDraw d;
  d.zoom_x = 2;
  d.zoom_y = 2;
  Tensor out = warp_affine(img, affine_of(d, 31, 31));
  EXPECT_FLOAT_EQ(out.at({0, 15, 18}), 1.0f);
  AugmentDraw in;
  in.zoom_x = in.zoom_y = 0.5f;
  Tensor big = warp_affine(marker(31, 31, 15, 18), affine_of(in, 31, 31));
  EXPECT_FLOAT_EQ(big.at({0, 15, 21}), 1.0f);
}

TEST(Augment, ShearAsKeras) {
  // The documented form: an output offset (dx, dy) from the centre reads the input at (dx cos s, dy - dx sin s).
  AugmentDraw d;
  d.shear_deg = 30;
  Affine m = affine_of(d, 11, 11);
  float dx = 4, dy = 1, cx = 5, cy = 5;
  EXPECT_NEAR(m.m[0] * (cx + dx) + m.m[1] * (cy + dy) + m.m[2], cx + dx * std::cos(M_PI / 6), 1e-5);
  EXPECT_NEAR(m.m[3] * (cx + dx) + m.m[4] * (cy + dy) + m.m[5], cy + dy - dx * std::sin(M_PI / 6), 1e-5);
}

TEST(Augment, FlipMirrorsExactly) {
  Tensor img = random_image(2, 9, 12, 3);
  AugmentDraw d;
  d.flip = true;
  Tensor out = warp_affine(img, affine_of(d, 12, 9));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t y = 0; y < 9; ++y)
      for (int64_t x = 0; x < 12; ++x) ASSERT_EQ(out.at({c, y, x}), img.at({c, y, 11 - x}));
}

TEST(Augment, NearestFillRepeatsTheEdge) {
  // Shifting right by 4 fills the 4 left columns with the original first column.
  Tensor img = random_image(1, 6, 10, 9);
  AugmentDraw d;
  d.shift_x = 4;
  Tensor out = warp_affine(img, affine_of(d, 10, 6));
  for (int64_t y = 0; y < 6; ++y) {
    for (int64_t x = 0; x < 4; ++x) EXPECT_EQ(out.at({0, y, x}), img.at({0, y, 0}));
    for (int64_t x = 4; x < 10; ++x) EXPECT_EQ(out.at({0, y, x}), img.at({0, y, x - 4}));
  }
}

TEST(Augment, DeterministicPerSeed) {
  Tensor img = random_image(1, 32, 32, 4);
  AugmentParams p = AugmentParams::xray();
  p.rotation_range = 10;
  p.noise_std = 0.05f;
  Rng a(11), b(11), c(12);
  Tensor x = augment(img, p, a), y = augment(img, p, b), z = augment(img, p, c);
  int differ = 0;
  for (int64_t i = 0; i < img.numel(); ++i) {
    ASSERT_EQ(x[i], y[i]);
    differ += x[i] != z[i];
  }
  EXPECT_GT(differ, img.numel() / 2);
}

TEST(Augment, TurningOnePartOnKeepsTheOthersDraws) {
  AugmentParams p = AugmentParams::xray(), q = p;
  q.rotation_range = 15;
  q.brightness_range = {0.8f, 1.2f};
  Rng a(3), b(3);
  AugmentDraw da = draw_augment(p, a, 64, 64), db = draw_augment(q, b, 64, 64);
  EXPECT_EQ(da.shift_x, db.shift_x);
  EXPECT_EQ(da.zoom_y, db.zoom_y);
  EXPECT_EQ(da.shear_deg, db.shear_deg);
  EXPECT_NE(db.angle_deg, 0.0f);
}

TEST(Augment, XrayPresetDrawsInItsRanges) {
  AugmentParams p = AugmentParams::preset("xray");
  EXPECT_FLOAT_EQ(p.width_shift_range, 0.1f);
  EXPECT_FLOAT_EQ(p.height_shift_range, 0.1f);
  EXPECT_FLOAT_EQ(p.shear_range, 0.1f);
  EXPECT_FLOAT_EQ(p.zoom_range, 0.2f);
  EXPECT_FALSE(p.horizontal_flip);
  Rng rng(1);
  int independent = 0;
  float zmin = 2, zmax = 0;
  for (int i = 0; i < 2000; ++i) {
    AugmentDraw d = draw_augment(p, rng, 224, 200);
    ASSERT_LE(std::abs(d.shift_x), 22.4f + 1e-4f);
    ASSERT_LE(std::abs(d.shift_y), 20.0f + 1e-4f);
    ASSERT_LE(std::abs(d.shear_deg), 0.1f);
    ASSERT_EQ(d.angle_deg, 0.0f);
    ASSERT_FALSE(d.flip);
    zmin = std::min({zmin, d.zoom_x, d.zoom_y});
    zmax = std::max({zmax, d.zoom_x, d.zoom_y});
    independent += d.zoom_x != d.zoom_y;
  }
  EXPECT_GE(zmin, 0.8f);
  EXPECT_LT(zmax, 1.2f);
  EXPECT_LT(zmin, 0.81f);
  EXPECT_GT(zmax, 1.19f);
  EXPECT_GT(independent, 1990);
  EXPECT_THROW(AugmentParams::preset("mirror"), Error);
  EXPECT_TRUE(AugmentParams::preset("none").is_identity());
}

TEST(Augment, IntensityParts) {
  Tensor img = random_image(1, 16, 16, 8);
  AugmentParams half;
  half.brightness_range = {0.5f, 0.5f};
  Rng r(1);
  Tensor b = augment(img, half, r);
  for (int64_t i = 0; i < img.numel(); ++i) ASSERT_FLOAT_EQ(b[i], 0.5f * img[i]);

  // Contrast 0 flattens the image to its mean.
  AugmentParams flat;
  flat.contrast_range = {0.0f, 0.0f};
  double mean = 0;
  for (int64_t i = 0; i < img.numel(); ++i) mean += img[i];
  mean /= img.numel();
  Tensor f = augment(img, flat, r);
  for (int64_t i = 0; i < img.numel(); ++i) ASSERT_NEAR(f[i], mean, 1e-5);
}

TEST(Augment, OutputStaysInRange) {
  Tensor img = random_image(3, 24, 24, 2);
  AugmentParams p = AugmentParams::xray();
  p.rotation_range = 30;
  p.horizontal_flip = true;
  p.brightness_range = {0.5f, 1.8f};
  p.contrast_range = {0.5f, 2.0f};
  p.noise_std = 0.2f;
  Rng rng(4);
  for (int k = 0; k < 20; ++k) {
    Tensor out = augment(img, p, rng);
    ASSERT_EQ(out.shape(), img.shape());
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_TRUE(out[i] >= 0.0f && out[i] <= 1.0f) << out[i];
  }
}

TEST(Augment, ValidateRejectsNonsense) {
  AugmentParams p;
  p.zoom_range = 1.0f;
  EXPECT_THROW(p.validate(), Error);
  p = {};
  p.rotation_range = -1;
  EXPECT_THROW(p.validate(), Error);
  p = {};
  p.brightness_range = {1.2f, 0.8f};
  EXPECT_THROW(p.validate(), Error);
  EXPECT_NO_THROW(AugmentParams::xray().validate());
  EXPECT_EQ(AugmentParams::none().describe(), "none");
  EXPECT_NE(AugmentParams::xray().describe().find("zoom_range=0.2"), std::string::npos);
}
