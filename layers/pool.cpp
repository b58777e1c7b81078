#include "layers/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace cxr {

namespace {

void check_pool_input(const Variable& x, const char* what) {
  CXR_CHECK(x.defined(), what, ": input is undefined");
  CXR_CHECK(x.shape().size() == 4, what, ": input must be [N, C, H, W], got ", to_string(x.shape()));
  CXR_CHECK(x.numel() > 0, what, ": empty input ", to_string(x.shape()));
}

// Output size of a fixed-window pool (floor mode, as PyTorch's default ceil_mode=False).
int64_t pool_out_size(const Variable& x, int64_t in, int kernel, int stride, int pad, const char* what) {
  CXR_CHECK(kernel > 0 && stride > 0 && pad >= 0, what, ": kernel and stride must be positive and padding "
            "non-negative, got kernel ", kernel, " stride ", stride, " padding ", pad);
  // As PyTorch: a window must always overlap the image, so padding is at most half the kernel.
  CXR_CHECK(2 * pad <= kernel, what, ": padding ", pad, " is more than half the kernel ", kernel);
  CXR_CHECK(in + 2 * pad >= kernel, what, ": kernel ", kernel, " is larger than the padded input ",
            to_string(x.shape()), " with padding ", pad);
  return (in + 2 * pad - kernel) / stride + 1;
}

// One plane of VGG's pool (2x2 windows, stride 2, no padding), on its own: the general loop's per-window
// bounds and branches made max-pooling 7% of a w0.25 training step. The same comparisons in the same
// order as the general loop (a strictly greater value or a NaN takes over), so the same values and argmax.
void max_pool_2x2(const float* src, int64_t W, float* dst, int32_t* idx, int64_t Ho, int64_t Wo) {
  for (int64_t oh = 0; oh < Ho; ++oh) {
    const float* r0 = src + 2 * oh * W;
    const float* r1 = r0 + W;
    const int32_t base = static_cast<int32_t>(2 * oh * W);
    float* out = dst + oh * Wo;
    for (int64_t ow = 0; ow < Wo; ++ow) {
      const int64_t w = 2 * ow;
      const float v[4] = {r0[w], r0[w + 1], r1[w], r1[w + 1]};
      const int32_t at[4] = {base + static_cast<int32_t>(w), base + static_cast<int32_t>(w + 1),
                             base + static_cast<int32_t>(W + w), base + static_cast<int32_t>(W + w + 1)};
      float best = v[0];
      int32_t arg = at[0];
      for (int k = 1; k < 4; ++k) {
        const bool take = v[k] > best || std::isnan(v[k]);
        best = take ? v[k] : best;
        arg = take ? at[k] : arg;
      }
      out[ow] = best;
      if (idx) idx[oh * Wo + ow] = arg;
    }
  }
}

}  // namespace

// ---- max pool ----------------------------------------------------------------------------------------------

Variable max_pool2d(const Variable& x, int kernel, int stride, int pad) {
  check_pool_input(x, "max_pool2d");
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t Ho = pool_out_size(x, H, kernel, stride, pad, "max_pool2d");
  const int64_t Wo = pool_out_size(x, W, kernel, stride, pad, "max_pool2d");
  CXR_CHECK(H * W <= std::numeric_limits<int32_t>::max(), "max_pool2d: plane of ", to_string(xs),
            " too large for int32 indices");

  Tensor y = Tensor::empty({N, C, Ho, Wo});
  // The argmax of each window (its index in the input plane) is all backward needs; it is kept only when
  // a gradient will flow, so inference stores nothing.
  const bool keep = grad_enabled() && x.requires_grad();
  auto indices = keep ? std::make_shared<std::vector<int32_t>>(static_cast<size_t>(y.numel())) : nullptr;
  const float* xp = x.data().data();
  float* yp = y.data();
  int32_t* ip = keep ? indices->data() : nullptr;
  const int64_t planes = N * C;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = xp + p * H * W;
    float* dst = yp + p * Ho * Wo;
    int32_t* idx = ip ? ip + p * Ho * Wo : nullptr;
    if (kernel == 2 && stride == 2 && pad == 0) {
      max_pool_2x2(src, W, dst, idx, Ho, Wo);
      continue;
    }
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * stride - pad, 0), h1 = std::min<int64_t>(oh * stride - pad + kernel, H);
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t w0 = std::max<int64_t>(ow * stride - pad, 0);
        const int64_t w1 = std::min<int64_t>(ow * stride - pad + kernel, W);
        float best = -std::numeric_limits<float>::infinity();
        int64_t arg = h0 * W + w0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const float v = src[h * W + w];
            if (v > best || std::isnan(v)) {  // NaN propagates, as in PyTorch
              best = v;
              arg = h * W + w;
            }
          }
        dst[oh * Wo + ow] = best;
        if (idx) idx[oh * Wo + ow] = static_cast<int32_t>(arg);
      }
    }
  }

  return Variable::make(y, {x}, [indices, xs, Ho, Wo](const Tensor& g, std::vector<Variable>& in) {
    Tensor dx = Tensor::zeros(xs);
    const int64_t plane = xs[2] * xs[3], out = Ho * Wo, planes = xs[0] * xs[1];
    const float* gp = g.data();
    const int32_t* ip = indices->data();
    float* dp = dx.data();
    // One plane per iteration: overlapping windows add into the same pixel in a fixed order.
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t o = 0; o < out; ++o) dp[p * plane + ip[p * out + o]] += gp[p * out + o];
    in[0].accumulate_grad(dx);
  }, "max_pool2d", Saved{{}, indices ? indices->size() * sizeof(int32_t) : 0});
}

// ---- average pool ------------------------------------------------------------------------------------------

Variable avg_pool2d(const Variable& x, int kernel, int stride, int pad) {
  check_pool_input(x, "avg_pool2d");
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t Ho = pool_out_size(x, H, kernel, stride, pad, "avg_pool2d");
  const int64_t Wo = pool_out_size(x, W, kernel, stride, pad, "avg_pool2d");

  // A window [h0, h1) x [w0, w1) of the image, and its divisor: count_include_pad=True counts the padded
  // cells (the window clipped to the padded image), as PyTorch's default.
  struct Window {
    int64_t h0, h1, w0, w1;
    float inv_count;
  };
  auto window = [=](int64_t oh, int64_t ow) {
    const int64_t hs = oh * stride - pad, ws = ow * stride - pad;
    const int64_t he = std::min<int64_t>(hs + kernel, H + pad), we = std::min<int64_t>(ws + kernel, W + pad);
    const float count = static_cast<float>((he - hs) * (we - ws));
    return Window{std::max<int64_t>(hs, 0), std::min(he, H), std::max<int64_t>(ws, 0), std::min(we, W), 1.0f / count};
  };

  Tensor y = Tensor::empty({N, C, Ho, Wo});
  const float* xp = x.data().data();
  float* yp = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const float* src = xp + p * H * W;
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const Window win = window(oh, ow);
        float s = 0.0f;
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) s += src[h * W + w];
        yp[(p * Ho + oh) * Wo + ow] = s * win.inv_count;
      }
  }

  return Variable::make(y, {x}, [xs, Ho, Wo, window](const Tensor& g, std::vector<Variable>& in) {
    Tensor dx = Tensor::zeros(xs);
    const int64_t H = xs[2], W = xs[3];
    const float* gp = g.data();
    float* dp = dx.data();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < xs[0] * xs[1]; ++p) {
      float* dst = dp + p * H * W;
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const Window win = window(oh, ow);
          const float d = gp[(p * Ho + oh) * Wo + ow] * win.inv_count;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) dst[h * W + w] += d;
        }
    }
    in[0].accumulate_grad(dx);
  }, "avg_pool2d");
}

// ---- adaptive average pool ---------------------------------------------------------------------------------

namespace {

// PyTorch's adaptive windows along one dimension: output i averages [floor(i*in/out), ceil((i+1)*in/out)).
std::vector<std::pair<int64_t, int64_t>> adaptive_windows(int64_t in, int64_t out) {
  std::vector<std::pair<int64_t, int64_t>> win(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) win[i] = {i * in / out, ((i + 1) * in + out - 1) / out};
  return win;
}

}  // namespace

Variable adaptive_avg_pool2d(const Variable& x, int out_h, int out_w) {
  check_pool_input(x, "adaptive_avg_pool2d");
  CXR_CHECK(out_h > 0 && out_w > 0, "adaptive_avg_pool2d: output size must be positive, got ", out_h, "x", out_w,
            " for input ", to_string(x.shape()));
  const Shape xs = x.shape();
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], Ho = out_h, Wo = out_w;

  if (H == Ho && W == Wo) {  // every window is one pixel: VGG at 224x224 (7x7 in, 7x7 out) takes this path
    return Variable::make(x.data(), {x}, [](const Tensor& g, std::vector<Variable>& in) {
      in[0].accumulate_grad(g);
    }, "adaptive_avg_pool2d");
  }

  const auto rows = adaptive_windows(H, Ho), cols = adaptive_windows(W, Wo);
  Tensor y = Tensor::empty({N, C, Ho, Wo});
  const float* xp = x.data().data();
  float* yp = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const float* src = xp + p * H * W;
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const auto [h0, h1] = rows[oh];
        const auto [w0, w1] = cols[ow];
        float s = 0.0f;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += src[h * W + w];
        yp[(p * Ho + oh) * Wo + ow] = s / static_cast<float>((h1 - h0) * (w1 - w0));
      }
  }

  return Variable::make(y, {x}, [xs, rows, cols](const Tensor& g, std::vector<Variable>& in) {
    Tensor dx = Tensor::zeros(xs);
    const int64_t H = xs[2], W = xs[3], Ho = static_cast<int64_t>(rows.size()), Wo = static_cast<int64_t>(cols.size());
    const float* gp = g.data();
    float* dp = dx.data();
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < xs[0] * xs[1]; ++p) {
      float* dst = dp + p * H * W;
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const auto [h0, h1] = rows[oh];
          const auto [w0, w1] = cols[ow];
          const float d = gp[(p * Ho + oh) * Wo + ow] / static_cast<float>((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) dst[h * W + w] += d;
        }
    }
    in[0].accumulate_grad(dx);
  }, "adaptive_avg_pool2d");
}

}  // namespace cxr
