// A tiny built-in bitmap font (5x7 pixel glyphs, like old terminals and LED signs) for labelling panels:
// no font files, no dependencies. Covers A-Z (lower case is drawn as upper case), 0-9, space and
// . , : ; - _ = + % ( ) [ ] / ! ? ' " # * < > | &. Any other character draws as '?'.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace cxr {

// Each glyph is 5x7 pixels scaled by `scale`; characters advance 6 * scale pixels.
int64_t text_width(const std::string& text, int scale);
inline int64_t text_height(int scale) { return 7 * static_cast<int64_t>(scale); }

// Draws text into an image [C, H, W] (C = 1 uses color[0]; C >= 3 uses color[0..2]) with its top-left
// corner at (x, y). Pixels outside the image are clipped.
void draw_text(Tensor& image, int64_t x, int64_t y, const std::string& text, int scale, const float color[3]);
// Fills a rectangle (clipped) with a colour.
void fill_rect(Tensor& image, int64_t x, int64_t y, int64_t w, int64_t h, const float color[3]);

// The 7 row bitmasks of a glyph (bit 4 = leftmost pixel), for tests.
const uint8_t* glyph_rows(char c);

}  // namespace cxr
