#include "layers/winograd.h"

#include <algorithm>

#include "core/blas.h"
#include "core/threading.h"
#include "core/workspace.h"

namespace cxr {

namespace {

// Workspace slots (core/workspace.h; conv2d's im2col uses 0-2): a block's V and M.
constexpr int kVSlot = 3, kMSlot = 4;

// V and M of one block hold at most this many floats together (16 MiB): 2048 tiles for 64 -> 64 channels,
// 256 for 512 -> 512, enough columns for SGEMM to run at full speed.
constexpr int64_t kBlockBudget = int64_t{1} << 22;

// The 4x4 input patch d (row-major) -> B^T d B, with
//   B^T = [1  0 -1  0]
//         [0  1  1  0]
//         [0 -1  1  0]
//         [0  1  0 -1]
inline void input_tile(const float d[16], float v[16]) {
  float t[16];  // B^T d: combines rows
  for (int j = 0; j < 4; ++j) {
    t[0 * 4 + j] = d[0 * 4 + j] - d[2 * 4 + j];
    t[1 * 4 + j] = d[1 * 4 + j] + d[2 * 4 + j];
    t[2 * 4 + j] = d[2 * 4 + j] - d[1 * 4 + j];
    t[3 * 4 + j] = d[1 * 4 + j] - d[3 * 4 + j];
  }
  for (int i = 0; i < 4; ++i) {  // (B^T d) B: combines columns the same way
    const float* r = t + i * 4;
    v[i * 4 + 0] = r[0] - r[2];
    v[i * 4 + 1] = r[1] + r[2];
    v[i * 4 + 2] = r[2] - r[1];
    v[i * 4 + 3] = r[1] - r[3];
  }
}

// The 3x3 filter g -> G g G^T (4x4), with
//   G = [1    0    0  ]
//       [1/2  1/2  1/2]
//       [1/2 -1/2  1/2]
//       [0    0    1  ]
inline void filter_tile(const float g[9], float u[16]) {
  float t[12];  // G g: [4, 3]
  for (int j = 0; j < 3; ++j) {
    t[0 * 3 + j] = g[0 * 3 + j];
    t[1 * 3 + j] = 0.5f * (g[0 * 3 + j] + g[1 * 3 + j] + g[2 * 3 + j]);
    t[2 * 3 + j] = 0.5f * (g[0 * 3 + j] - g[1 * 3 + j] + g[2 * 3 + j]);
    t[3 * 3 + j] = g[2 * 3 + j];
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    const float* r = t + i * 3;
    u[i * 4 + 0] = r[0];
    u[i * 4 + 1] = 0.5f * (r[0] + r[1] + r[2]);
    u[i * 4 + 2] = 0.5f * (r[0] - r[1] + r[2]);
    u[i * 4 + 3] = r[2];
  }
}

// The 4x4 product m -> A^T m A (2x2), with
//   A^T = [1  1  1  0]
//         [0  1 -1 -1]
inline void output_tile(const float m[16], float y[4]) {
  float t[8];  // A^T m: [2, 4]
  for (int j = 0; j < 4; ++j) {
    t[0 * 4 + j] = m[0 * 4 + j] + m[1 * 4 + j] + m[2 * 4 + j];
    t[1 * 4 + j] = m[1 * 4 + j] - m[2 * 4 + j] - m[3 * 4 + j];
  }
  for (int i = 0; i < 2; ++i) {
    const float* r = t + i * 4;
    y[i * 2 + 0] = r[0] + r[1] + r[2];
    y[i * 2 + 1] = r[1] - r[2] - r[3];
  }
}

// Where tile p of the batch is: image n, output rows 2*th, 2*th + 1 and columns 2*tw, 2*tw + 1.
struct Tiling {
  int64_t H, W, TH, TW;
  Tiling(int64_t H, int64_t W) : H(H), W(W), TH((H + 1) / 2), TW((W + 1) / 2) {}
  int64_t per_image() const { return TH * TW; }
};

// V [16, C, np] of tiles p0 .. p0 + np of x [N, C, H, W]; patches are zero outside the image.
void transform_inputs(const float* x, int64_t C, const Tiling& t, int64_t p0, int64_t np, float* V) {
  const int64_t HW = t.H * t.W, CP = C * np;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t c = 0; c < C; ++c)
    for (int64_t q = 0; q < np; ++q) {
      const int64_t p = p0 + q, n = p / t.per_image(), th = (p % t.per_image()) / t.TW, tw = p % t.TW;
      const float* xc = x + (n * C + c) * HW;
      const int64_t h0 = 2 * th - 1, w0 = 2 * tw - 1;
      float d[16];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int64_t h = h0 + i, w = w0 + j;
          d[i * 4 + j] = (h >= 0 && h < t.H && w >= 0 && w < t.W) ? xc[h * t.W + w] : 0.0f;
        }
      float v[16];
      input_tile(d, v);
      for (int e = 0; e < 16; ++e) V[e * CP + c * np + q] = v[e];
    }
}

// y [N, K, H, W] at tiles p0 .. p0 + np from M [16, K, np] (+ bias); the parts of edge tiles outside the
// image are dropped.
void transform_outputs(const float* M, int64_t K, const Tiling& t, int64_t p0, int64_t np, const float* bias,
                       float* y) {
  const int64_t HW = t.H * t.W, KP = K * np;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t k = 0; k < K; ++k)
    for (int64_t q = 0; q < np; ++q) {
      const int64_t p = p0 + q, n = p / t.per_image(), th = (p % t.per_image()) / t.TW, tw = p % t.TW;
      float m[16], o[4];
      for (int e = 0; e < 16; ++e) m[e] = M[e * KP + k * np + q];
      output_tile(m, o);
      const float b = bias ? bias[k] : 0.0f;
      float* yk = y + (n * K + k) * HW;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const int64_t h = 2 * th + i, w = 2 * tw + j;
          if (h < t.H && w < t.W) yk[h * t.W + w] = o[i * 2 + j] + b;
        }
    }
}

}  // namespace

int64_t winograd_block_tiles(int64_t C, int64_t K) {
  const int64_t tiles = kBlockBudget / (16 * (C + K));
  return std::max<int64_t>(64, tiles / 16 * 16);
}

void winograd_filter_transform(const float* w, int64_t K, int64_t C, bool for_backward_data, float* U) {
  const int64_t KC = K * C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const float* src = w + (k * C + c) * 9;
      float g[9], u[16];
      for (int i = 0; i < 9; ++i) g[i] = for_backward_data ? src[8 - i] : src[i];  // 8 - i: rotated 180 degrees
      filter_tile(g, u);
      const int64_t at = for_backward_data ? c * K + k : k * C + c;  // U[e] is [out, in]
      for (int e = 0; e < 16; ++e) U[e * KC + at] = u[e];
    }
}

void winograd_conv3x3(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* U, int64_t K,
                      const float* bias, float* y) {
  const Tiling t(H, W);
  const int64_t P = N * t.per_image(), block = std::min(P, winograd_block_tiles(C, K));
  float* V = scratch(static_cast<size_t>(16 * C * block), kVSlot);
  float* M = scratch(static_cast<size_t>(16 * K * block), kMSlot);
  for (int64_t p0 = 0; p0 < P; p0 += block) {
    const int64_t np = std::min(block, P - p0);
    transform_inputs(x, C, t, p0, np, V);
    {
      // The 16 products, one per thread at a time, each single-threaded: no product is split, so each
      // output is the same sum whatever the thread count.
      BlasSingleThread single;
#pragma omp parallel for schedule(static)
      for (int e = 0; e < 16; ++e)
        sgemm(false, false, K, np, C, 1.0f, U + e * K * C, C, V + e * C * np, np, 0.0f, M + e * K * np, np);
    }
    transform_outputs(M, K, t, p0, np, bias, y);
  }
}

}  // namespace cxr
