// Image transforms: resize against a naive 2-D reference and against values from torch 1.13's
// F.interpolate(mode="bilinear", align_corners=False[, antialias=True]); antialiasing; channel conversions;
// normalisation.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "image/transform.h"

using namespace cxr;
using namespace cxr::image;

namespace {

Tensor wave(int64_t C, int64_t H, int64_t W) {  // the input the torch values were computed from
  Tensor t = Tensor::empty({C, H, W});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) t.at({c, y, x}) = static_cast<float>(std::sin(0.7 * y + 1.3 * x + c) * 0.5 + 0.5);
  return t;
}

// Naive reference, written from the definition and not from the implementation: every output pixel is a
// weighted mean over ALL input pixels, weight = tri(dy / sy) * tri(dx / sx), where d is the distance between
// pixel centres in input coordinates and s = max(in / out, 1) when antialiasing (else 1).
Tensor naive_resize(const Tensor& in, int64_t oh, int64_t ow, bool antialias) {
  const int64_t C = in.size(0), H = in.size(1), W = in.size(2);
  const double ry = double(H) / oh, rx = double(W) / ow;
  const double sy = antialias ? std::max(ry, 1.0) : 1.0, sx = antialias ? std::max(rx, 1.0) : 1.0;
  auto tri = [](double d) { return std::max(0.0, 1.0 - std::fabs(d)); };
  Tensor out = Tensor::empty({C, oh, ow});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const double cy = (i + 0.5) * ry, cx = (j + 0.5) * rx;
        double num = 0, den = 0;
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x) {
            double w = tri((y + 0.5 - cy) / sy) * tri((x + 0.5 - cx) / sx);
            num += w * in.at({c, y, x});
            den += w;
          }
        out.at({c, i, j}) = static_cast<float>(num / den);
      }
  return out;
}

void expect_close(const Tensor& a, const Tensor& b, float tol, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  EXPECT_LE(worst, tol) << what;
}

void expect_values(const Tensor& t, const Shape& shape, const std::vector<float>& v, const char* what) {
  expect_close(t, Tensor::from(v, shape), 2e-6f, what);
}

}  // namespace

TEST(Resize, MatchesTorchAntialiasedDownscale) {
  expect_values(resize(wave(2, 5, 7), 3, 4), {2, 3, 4},
                {0.7792077f, 0.5383990f, 0.2587475f, 0.8224622f, 0.7969934f, 0.2577281f, 0.5576491f, 0.7506038f,
                 0.5026428f, 0.2316819f, 0.7959622f, 0.4153640f, 0.8261453f, 0.2643546f, 0.5295548f, 0.7851260f,
                 0.5363022f, 0.2313992f, 0.7723307f, 0.4526349f, 0.2083060f, 0.4807398f, 0.7288905f, 0.1699239f},
                "torch antialias=True 5x7 -> 3x4");
}

TEST(Resize, MatchesTorchPlainDownscale) {
  expect_values(resize(wave(2, 5, 7), 3, 4, /*antialias=*/false), {2, 3, 4},
                {0.7443819f, 0.5779912f, 0.1384432f, 0.8676998f, 0.8880868f, 0.1168822f, 0.5842826f, 0.7569546f,
                 0.5414509f, 0.1398358f, 0.9236324f, 0.3215518f, 0.8806380f, 0.1832371f, 0.5060345f, 0.7900752f,
                 0.6117380f, 0.0815215f, 0.9245157f, 0.3752306f, 0.2016590f, 0.5085461f, 0.8066288f, 0.1180299f},
                "torch antialias=False 5x7 -> 3x4");
}

TEST(Resize, MatchesTorchMixedShrinkAndGrow) {
  expect_values(resize(wave(2, 5, 7), 2, 11), {2, 2, 11},
                {0.7633731f, 0.8173145f, 0.8419510f, 0.5612990f, 0.3120676f, 0.0864015f, 0.2463226f, 0.4710877f,
                 0.7823112f, 0.8324140f, 0.8371159f, 0.8564834f, 0.6429825f, 0.3591600f, 0.1658095f, 0.1946359f,
                 0.3900950f, 0.6880157f, 0.8427965f, 0.8067243f, 0.5296689f, 0.3030838f, 0.9144131f, 0.7558910f,
                 0.5252147f, 0.2420664f, 0.1609728f, 0.2314202f, 0.5522576f, 0.7789646f, 0.8801645f, 0.6660253f,
                 0.4755284f, 0.5104591f, 0.3243705f, 0.1169774f, 0.2283710f, 0.4590365f, 0.7791559f, 0.8390255f,
                 0.7497698f, 0.4616805f, 0.2370991f, 0.0842443f},
                "torch antialias=True 5x7 -> 2x11");
}

TEST(Resize, MatchesTorchUpscaleFirstRows) {
  // torch 5x7 -> 9x11 bilinear, align_corners=False: the first 11 values (row 0 of channel 0) and the last
  // 11 (row 8 of channel 1) cover both clamped edges.
  Tensor up = resize(wave(2, 5, 7), 9, 11);
  ASSERT_EQ(up.shape(), (Shape{2, 9, 11}));
  const std::vector<float> first = {0.5000000f, 0.7189905f, 0.9614129f, 0.8188493f, 0.5389748f, 0.1561169f,
                                    0.0938524f, 0.2080783f, 0.5576248f, 0.8212209f, 0.9992717f};
  const std::vector<float> last = {0.1940711f, 0.1227172f, 0.0844728f, 0.4161341f, 0.7167508f, 0.9940841f,
                                   0.8107956f, 0.5451768f, 0.1697846f, 0.1011182f, 0.0885857f};
  for (int x = 0; x < 11; ++x) {
    EXPECT_NEAR(up.at({0, 0, x}), first[x], 2e-6) << x;
    EXPECT_NEAR(up.at({1, 8, x}), last[x], 2e-6) << x;
  }
}

TEST(Resize, MatchesNaiveReference) {
  struct Case { int64_t C, H, W, oh, ow; bool aa; };
  for (Case k : {Case{3, 37, 23, 10, 50, true}, Case{2, 37, 23, 5, 4, true}, Case{1, 100, 80, 33, 27, true},
                 Case{1, 100, 80, 33, 27, false}, Case{1, 9, 13, 40, 41, true}, Case{2, 1, 5, 3, 1, true},
                 Case{1, 64, 64, 7, 64, true}, Case{1, 50, 3, 50, 9, true}}) {
    Tensor in = wave(k.C, k.H, k.W);
    expect_close(resize(in, k.oh, k.ow, k.aa), naive_resize(in, k.oh, k.ow, k.aa), 2e-5f,
                 str(k.H, "x", k.W, " -> ", k.oh, "x", k.ow, " aa=", k.aa).c_str());
  }
}

TEST(Resize, IdentityIsExactAndACopy) {
  Tensor in = wave(3, 17, 19);
  Tensor out = resize(in, 17, 19);
  ASSERT_EQ(out.shape(), in.shape());
  EXPECT_FALSE(out.shares_storage_with(in));
  for (int64_t i = 0; i < in.numel(); ++i) ASSERT_EQ(out[i], in[i]);
}

TEST(Resize, ConstantStaysConstant) {
  Tensor in = Tensor::full({2, 31, 45}, 0.375f);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 9}, {100, 3}, {224, 224}, {1, 1}}) {
    Tensor out = resize(in, h, w);
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_NEAR(out[i], 0.375f, 1e-6f) << h << "x" << w;
  }
}

TEST(Resize, AntialiasAveragesACheckerboard) {
  // A one-pixel checkerboard shrunk 7x: plain bilinear samples single pixels (all 0 or 1, aliasing);
  // the antialiased filter averages ~49 pixels and gives ~0.5.
  Tensor board = Tensor::empty({1, 63, 63});
  for (int64_t y = 0; y < 63; ++y)
    for (int64_t x = 0; x < 63; ++x) board.at({0, y, x}) = static_cast<float>((x + y) % 2);
  Tensor aa = resize(board, 9, 9, true), plain = resize(board, 9, 9, false);
  for (int64_t i = 0; i < aa.numel(); ++i) {
    EXPECT_NEAR(aa[i], 0.5f, 0.01f) << i;
    EXPECT_TRUE(plain[i] < 0.01f || plain[i] > 0.99f) << i << ": " << plain[i];
  }
}

TEST(Resize, RejectsBadArguments) {
  EXPECT_THROW(resize(Tensor::zeros({4, 4}), 2, 2), Error);
  EXPECT_THROW(resize(Tensor::zeros({1, 4, 4}), 0, 2), Error);
  try {
    resize(Tensor::zeros({1, 4, 4}), 2, -1);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resize"), std::string::npos) << e.what();
  }
}

TEST(Channels, GrayIsPilLuma) {
  Tensor rgb = Tensor::from({1.0f, 0.0f, 0.2f, /*G*/ 0.0f, 1.0f, 0.4f, /*B*/ 0.0f, 0.0f, 0.6f}, {3, 1, 3});
  Tensor g = to_gray(rgb);
  ASSERT_EQ(g.shape(), (Shape{1, 1, 3}));
  EXPECT_NEAR(g[0], 0.299f, 1e-6f);
  EXPECT_NEAR(g[1], 0.587f, 1e-6f);
  EXPECT_NEAR(g[2], 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f, 1e-6f);
  // Alpha is dropped, not composited.
  Tensor rgba = Tensor::from({0.5f, 0.5f, 0.5f, 0.0f}, {4, 1, 1});
  EXPECT_NEAR(to_gray(rgba)[0], 0.5f, 1e-6f);
  Tensor la = Tensor::from({0.25f, 0.0f}, {2, 1, 1});
  EXPECT_EQ(to_gray(la).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(to_gray(la)[0], 0.25f);
}

TEST(Channels, GrayToRgbAndBack) {
  Tensor g = wave(1, 4, 5);
  Tensor rgb = gray_to_rgb(g);
  ASSERT_EQ(rgb.shape(), (Shape{3, 4, 5}));
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 20; ++i) ASSERT_EQ(rgb[c * 20 + i], g[i]);
  Tensor back = to_gray(rgb);  // 0.299 + 0.587 + 0.114 = 1
  for (int64_t i = 0; i < 20; ++i) EXPECT_NEAR(back[i], g[i], 1e-6f);
  EXPECT_THROW(gray_to_rgb(wave(3, 2, 2)), Error);
}

TEST(Channels, DropAlphaAndToChannels) {
  Tensor rgba = wave(4, 3, 3);
  Tensor rgb = drop_alpha(rgba);
  ASSERT_EQ(rgb.shape(), (Shape{3, 3, 3}));
  for (int64_t i = 0; i < 27; ++i) ASSERT_EQ(rgb[i], rgba[i]);
  EXPECT_EQ(drop_alpha(wave(2, 3, 3)).shape(), (Shape{1, 3, 3}));
  EXPECT_EQ(drop_alpha(wave(1, 3, 3)).shape(), (Shape{1, 3, 3}));
  EXPECT_EQ(to_channels(wave(2, 3, 3), 3).shape(), (Shape{3, 3, 3}));
  EXPECT_EQ(to_channels(rgba, 1).shape(), (Shape{1, 3, 3}));
  EXPECT_EQ(to_rgb(rgba).shape(), (Shape{3, 3, 3}));
  EXPECT_THROW(to_channels(rgba, 2), Error);
  EXPECT_THROW(to_gray(wave(5, 2, 2)), Error);
}

TEST(Normalise, ImagenetPresetPerChannel) {
  Normalisation n = normalisation_preset("imagenet");
  Tensor x = Tensor::full({3, 2, 2}, 0.5f);
  Tensor y = normalise(x, n);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(y[c * 4 + i], (0.5f - mean[c]) / sd[c], 1e-6f);
  EXPECT_EQ(x[0], 0.5f);  // input untouched
  Tensor back = denormalise(y, n);
  for (int64_t i = 0; i < 12; ++i) EXPECT_NEAR(back[i], 0.5f, 1e-6f);
  // In place, batched [N, C, H, W].
  Tensor batch = wave(6, 2, 2).reshape({2, 3, 2, 2}).clone();
  Tensor expect = batch.clone();
  normalise_(batch, n);
  for (int64_t i = 0; i < 24; ++i) {
    const int64_t c = (i / 4) % 3;
    EXPECT_NEAR(batch[i], (expect[i] - mean[c]) / sd[c], 1e-5f);
  }
}

TEST(Normalise, BroadcastPresetsAndErrors) {
  Tensor g = wave(1, 3, 3);
  Tensor y = normalise(g, normalisation_preset("half"));
  for (int64_t i = 0; i < 9; ++i) EXPECT_NEAR(y[i], g[i] * 2 - 1, 1e-6f);
  Tensor z = normalise(g, normalisation_preset("none"));
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(z[i], g[i]);
  // ImageNet statistics are for RGB: a gray image must be converted first, and the message says so.
  try {
    normalise(g, normalisation_preset("imagenet"));
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("to_channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(normalisation_preset("bogus"), Error);
  EXPECT_THROW(normalise(g, Normalisation{"zero", {0.0f}, {0.0f}}), Error);
}
