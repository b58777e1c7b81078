// im2col / col2im: the unfolding that turns a convolution into one matrix product (see layers/conv2d.h).
//
// One image x [C, H, W] unfolds into cols [C*kh*kw, Ho*Wo]: row r = (c, i, j) holds, for every output
// position (oh, ow), the input pixel x[c, oh*sh - ph + i, ow*sw - pw + j] (zero where that falls in the
// padding). Then the convolution of the image is W [K, C*kh*kw] * cols, and its output [K, Ho*Wo] is
// already in NCHW order.
//
// Both functions work on a band of output rows [oh0, oh1), so a caller can bound its buffer: the band's
// cols is [C*kh*kw, (oh1-oh0)*Wo], contiguous, row stride (oh1-oh0)*Wo. col2im ADDS the band's columns back
// into the image (a pixel is covered by several windows, and by several bands).
//
// `parallel` splits the work with OpenMP (rows of cols for im2col, channels for col2im, so threads never
// write the same memory and each pixel's sum is taken in a fixed order). Pass false when already inside a
// parallel loop.
#pragma once
#include <cstdint>

namespace cxr {

struct ConvGeometry {
  int64_t C, H, W;    // input channels and size
  int64_t kh, kw;     // kernel
  int64_t sh, sw;     // stride
  int64_t ph, pw;     // zero padding
  int64_t Ho, Wo;     // output size
  int64_t col_rows() const { return C * kh * kw; }
  // 1x1 kernel, stride 1, no padding: cols would be a copy of x itself, so im2col can be skipped.
  bool is_pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

void im2col(const float* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* cols, bool parallel);
void col2im(const float* cols, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* x, bool parallel);

}  // namespace cxr
