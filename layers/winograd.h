// Winograd F(2x2, 3x3): a 3x3, stride-1, padding-1 convolution with 2.25x fewer multiplications than the
// direct (or im2col + SGEMM) product (Lavin and Gray, arXiv 1509.09308; docs/WINOGRAD.md teaches it).
//
// The output is cut into 2x2 tiles; tile t reads the 4x4 input patch d around it (zero outside the image).
//   filter transform  U = G g G^T        [16, K, C]   (once per call, from w [K, C, 3, 3])
//   input transform   V = B^T d B        [16, C, P]   (P = tiles of the whole batch, in blocks)
//   element-wise      M[e] = U[e] * V[e] [16, K, P]   (16 SGEMMs, K x C times C x P, on OpenBLAS)
//   output transform  Y = A^T M A        2x2 outputs per tile and output channel (+ bias)
// Backward-data is the same algorithm: dx = conv(dy, w rotated 180 degrees with in/out channels swapped),
// which winograd_filter_transform builds with `for_backward_data`.
//
// The tiles go through in blocks of a fixed size (a function of C and K only), so the buffers stay bounded
// (VGG's conv1_2 at batch 8 would need 0.8 GB for V and M at once). The transforms are OpenMP loops over
// channels x tiles and the 16 products one SGEMM per thread: every output value is computed by one thread
// in an order that does not depend on the thread count, so results are bit-identical for any count.
#pragma once
#include <cstdint>

namespace cxr {

// U [16, out, in] from w [K, C, 3, 3]. Forward: out = K, in = C, g = w[k, c]. for_backward_data: out = C,
// in = K, g = w[k, c] rotated by 180 degrees (the transposed convolution that gives dx from dy).
void winograd_filter_transform(const float* w, int64_t K, int64_t C, bool for_backward_data, float* U);

// y [N, K, H, W] = the 3x3 stride-1 padding-1 convolution of x [N, C, H, W] with the filters whose
// transform is U [16, K, C] (winograd_filter_transform), plus bias [K] (may be null). y is overwritten.
void winograd_conv3x3(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* U, int64_t K,
                      const float* bias, float* y);

// The tiles per block of winograd_conv3x3 for C in and K out channels (exposed for tests and benchmarks).
int64_t winograd_block_tiles(int64_t C, int64_t K);

}  // namespace cxr
