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
// Both are serial. conv2d calls them either inside its own loop over images (one image per thread) or, for
// a single image, between multithreaded OpenBLAS calls. There, splitting them with OpenMP was 2-4x slower
// while OpenMP's idle threads spun after each region, but cxr runs with OMP_WAIT_POLICY=passive, which
// removes that loss; what keeps them serial is that the best parallel use measured, an image's bands
// shared among the threads, made a whole VGG-16 inference no faster (docs/IM2COL.md, "The band test"),
// and im2col is a small part of a layer's time next to its product.
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

void im2col(const float* x, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* cols);
void col2im(const float* cols, const ConvGeometry& g, int64_t oh0, int64_t oh1, float* x);

}  // namespace cxr
