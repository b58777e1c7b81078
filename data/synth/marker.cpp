// The shortcut marker: a burned-in tag of block glyphs, like the lead side markers and annotations that
// real radiographs carry, drawn bright (sometimes on a dark box) in the image's border band.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/synth.h"
#include "data/synth/parts.h"

namespace cxr::data {

int marker_band_px(int size) { return std::max(static_cast<int>(std::ceil(0.2 * size)), 10); }

}  // namespace cxr::data

namespace cxr::data::synth {

namespace {

// 5 x 7 glyphs, one string of 7 rows each.
struct Glyph {
  char c;
  const char* rows[7];
};
const Glyph kGlyphs[] = {
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'#', {"#####", "#...#", "#.#.#", "#...#", "#.#.#", "#...#", "#####"}},  // a corner symbol
};
const char* kTags[] = {"L", "R", "L", "R", "PA", "AP", "LT", "RT", "L#", "R#"};

const Glyph& glyph(char c) {
  for (const Glyph& g : kGlyphs)
    if (g.c == c) return g;
  return kGlyphs[0];
}

}  // namespace

void draw_marker(Plane& image, Plane& mask, Rng& r) {
  const int size = image.w;
  const int band = marker_band_px(size);
  const char* tag = kTags[r.below(sizeof(kTags) / sizeof(kTags[0]))];
  const int n = static_cast<int>(std::strlen(tag));
  int cell = std::max(1, static_cast<int>(std::lround(size * r.uniform(0.009f, 0.014f))));
  const bool boxed = r.bernoulli(0.5f);
  int pad = boxed ? cell : 0;
  auto width = [&] { return n * 5 * cell + (n - 1) * cell + 2 * pad; };
  auto height = [&] { return 7 * cell + 2 * pad; };
  // Shrink until the tag fits in the band with a pixel to spare.
  while (cell > 1 && height() + 1 > band) {
    --cell;
    pad = boxed ? cell : 0;
  }
  const int w = width(), h = height();
  // Along the top or bottom edge; along a side only when the tag is narrow enough for the band.
  int edge = static_cast<int>(r.below(w + 1 <= band ? 4 : 2));
  int x0, y0;
  auto along = [&](int extent) { return 1 + static_cast<int>(r.below(static_cast<uint64_t>(std::max(1, size - extent - 1)))); };
  auto across = [&](int extent) { return 1 + static_cast<int>(r.below(static_cast<uint64_t>(std::max(1, band - extent - 1)))); };
  if (edge == 0) { x0 = along(w); y0 = across(h); }
  else if (edge == 1) { x0 = along(w); y0 = size - h - across(h); }
  else if (edge == 2) { x0 = across(w); y0 = along(h); }
  else { x0 = size - w - across(w); y0 = along(h); }
  const float ink = r.uniform(0.95f, 1.f);
  const float paper = r.uniform(0.0f, 0.1f);
  auto ink_at = [&](int x, int y) {  // is (x, y) of the tag a glyph pixel?
    int gx = x - pad, gy = y - pad;
    if (gx < 0 || gy < 0 || gy >= 7 * cell) return false;
    int slot = gx / (6 * cell), col = (gx % (6 * cell)) / cell;
    return slot < n && col < 5 && glyph(tag[slot]).rows[gy / cell][col] == '#';
  };
  for (int y = 0; y < h; ++y) {
    int py = y0 + y;
    if (py < 0 || py >= size) continue;
    for (int x = 0; x < w; ++x) {
      int px = x0 + x;
      if (px < 0 || px >= size) continue;
      bool on = ink_at(x, y);
      // Without a box, a one-pixel dark outline keeps the letters visible on bright tissue.
      bool outline = !on && !boxed && (ink_at(x - 1, y) || ink_at(x + 1, y) || ink_at(x, y - 1) || ink_at(x, y + 1));
      if (on) {
        image.row(py)[px] = ink;
        mask.row(py)[px] = 1.f;
      } else if (boxed || outline) {
        image.row(py)[px] = paper;
        mask.row(py)[px] = 1.f;
      }
    }
  }
}

}  // namespace cxr::data::synth
