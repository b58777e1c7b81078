#include "layers/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/blas.h"
#include "core/threading.h"
#include "core/workspace.h"
#include "layers/im2col.h"
#include "layers/winograd.h"

namespace cxr {

namespace {

// Workspace slots (core/workspace.h): the im2col band, its gradient, and one image's weight gradient.
constexpr int kColsSlot = 0, kDcolsSlot = 1, kDwSlot = 2;
// The Winograd filter transform U (slots 3 and 4 are layers/winograd.cpp's V and M).
constexpr int kUSlot = 5;

// An image is unfolded in bands of output rows whose cols hold at most this many floats (8 MiB), so the
// buffer stays bounded (VGG's second layer would otherwise need 115 MB per image) and mostly in cache
// between im2col writing it and SGEMM reading it. The band depends only on the geometry, never on the
// thread count, so results do not either.
constexpr int64_t kColsBudget = int64_t{1} << 21;

int64_t band_rows(const ConvGeometry& g) {
  const int64_t per_row = std::max<int64_t>(1, g.col_rows() * g.Wo);
  return std::clamp<int64_t>(kColsBudget / per_row, 1, g.Ho);
}

// Two ways to use the cores, chosen by batch size (measured in docs/PERFORMANCE.md):
//  - at least as many images as threads: OpenMP over images, one image per thread, SGEMM single-threaded
//    inside (BlasSingleThread). No synchronisation inside an image, and every helper loop runs in the same
//    OpenMP team.
//  - fewer images (batch 1: inference, Grad-CAM): images one by one, OpenBLAS uses every thread, and
//    everything else (im2col, col2im, sums) stays serial. Interleaving OpenMP loops with OpenBLAS calls
//    was 2-4x slower while OpenMP's idle threads spun (cxr now sets OMP_WAIT_POLICY=passive, which
//    removes that); splitting an image's bands among threads (one BLAS thread each), with passive waits,
//    was no faster for a whole VGG-16 (docs/IM2COL.md, "The band test"), so serial it stays.
}  // namespace

bool parallel_over_images(int64_t N) {
  const int T = num_threads();
  return T > 1 && N >= T;
}

namespace {

// y [K, Ho*Wo] = W [K, R] * cols [R, Ho*Wo] (+ bias), for one image x [C, H, W].
void forward_image(const float* x, const float* w, const float* b, const ConvGeometry& g, int64_t K, float* y) {
  const int64_t R = g.col_rows(), HW = g.Ho * g.Wo;
  float beta = 0.0f;
  if (b) {  // the bias is fused into the product: y starts as the bias and SGEMM adds W * cols to it
    for (int64_t k = 0; k < K; ++k) std::fill(y + k * HW, y + (k + 1) * HW, b[k]);
    beta = 1.0f;
  }
  if (g.is_pointwise()) {
    sgemm(false, false, K, HW, R, 1.0f, w, R, x, HW, beta, y, HW);
    return;
  }
  const int64_t rows = band_rows(g);
  float* cols = scratch(static_cast<size_t>(R * rows * g.Wo), kColsSlot);
  for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += rows) {
    const int64_t oh1 = std::min(g.Ho, oh0 + rows), n = (oh1 - oh0) * g.Wo;
    im2col(x, g, oh0, oh1, cols);
    sgemm(false, false, K, n, R, 1.0f, w, R, cols, n, beta, y + oh0 * g.Wo, HW);
  }
}

// For one image: dw [K, R] = dy * cols^T and dx [C, H, W] = col2im(W^T * dy), both overwritten (dx is
// zeroed here, by the thread that computes it, rather than by one thread for the whole batch).
// Either output may be null when that gradient is not needed.
void backward_image(const float* x, const float* w, const float* dy, const ConvGeometry& g, int64_t K, float* dx,
                    float* dw) {
  const int64_t R = g.col_rows(), HW = g.Ho * g.Wo;
  if (g.is_pointwise()) {
    if (dw) sgemm(false, true, K, R, HW, 1.0f, dy, HW, x, HW, 0.0f, dw, R);
    if (dx) sgemm(true, false, R, HW, K, 1.0f, w, R, dy, HW, 0.0f, dx, HW);
    return;
  }
  if (dx) std::fill(dx, dx + g.C * g.H * g.W, 0.0f);
  const int64_t rows = band_rows(g), band = R * rows * g.Wo;
  float* cols = dw ? scratch(static_cast<size_t>(band), kColsSlot) : nullptr;
  float* dcols = dx ? scratch(static_cast<size_t>(band), kDcolsSlot) : nullptr;
  for (int64_t oh0 = 0; oh0 < g.Ho; oh0 += rows) {
    const int64_t oh1 = std::min(g.Ho, oh0 + rows), n = (oh1 - oh0) * g.Wo;
    const float* dyb = dy + oh0 * g.Wo;
    if (dw) {
      im2col(x, g, oh0, oh1, cols);  // recomputed: forward kept no cols alive
      sgemm(false, true, K, R, n, 1.0f, dyb, HW, cols, n, oh0 == 0 ? 0.0f : 1.0f, dw, R);
    }
    if (dx) {
      sgemm(true, false, R, n, K, 1.0f, w, R, dyb, HW, 0.0f, dcols, n);
      col2im(dcols, g, oh0, oh1, dx);
    }
  }
}

// dx [N, C, H, W] by Winograd from dy [N, K, H, W]: the convolution of dy with w rotated 180 degrees and
// its in/out channels swapped (for 3x3, stride 1, padding 1 that transposed convolution has padding 1 too).
void winograd_backward_data(const float* dy, const float* w, const ConvGeometry& g, int64_t N, int64_t K, float* dx) {
  float* U = scratch(static_cast<size_t>(16 * K * g.C), kUSlot);
  winograd_filter_transform(w, K, g.C, /*for_backward_data=*/true, U);
  winograd_conv3x3(dy, N, K, g.H, g.W, U, g.C, nullptr, dx);
}

struct ConvBackward {
  ConvGeometry g;
  int64_t N, K;
  Tensor x, w;  // x only when the weight needs a gradient, w only when x does
  bool has_bias;
  bool winograd;  // dx by Winograd (the forward ran it); dW stays im2col's

  void operator()(const Tensor& dy, std::vector<Variable>& in) const {
    const bool need_dx = in[0].requires_grad() && w.defined();
    const bool need_dw = in[1].requires_grad() && x.defined();
    const bool need_db = has_bias && in[2].requires_grad();
    const int64_t HW = g.Ho * g.Wo;
    const float* dyp = dy.data();

    const bool by_image = parallel_over_images(N);
    if (need_db) {  // db[k] = sum of dy over images and positions, in a fixed order
      Tensor db = Tensor::empty({K});
#pragma omp parallel for schedule(static) if (by_image)
      for (int64_t k = 0; k < K; ++k) {
        double s = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const float* p = dyp + (n * K + k) * HW;
          for (int64_t i = 0; i < HW; ++i) s += p[i];
        }
        db[k] = static_cast<float>(s);
      }
      in[2].accumulate_grad(db);
    }
    if (!need_dx && !need_dw) return;

    if (winograd && need_dx) {
      Tensor dx = Tensor::empty({N, g.C, g.H, g.W});
      winograd_backward_data(dyp, w.data(), g, N, K, dx.data());
      in[0].accumulate_grad(dx);
      if (need_dw) im2col_backward(dy, in, false, true);
      return;
    }
    im2col_backward(dy, in, need_dx, need_dw);
  }

  // dx and/or dW by im2col, per image.
  void im2col_backward(const Tensor& dy, std::vector<Variable>& in, bool need_dx, bool need_dw) const {
    const int64_t R = g.col_rows(), HW = g.Ho * g.Wo, xsize = g.C * g.H * g.W, wsize = K * R;
    const float* dyp = dy.data();
    const bool by_image = parallel_over_images(N);
    Tensor dx = need_dx ? Tensor::empty({N, g.C, g.H, g.W}) : Tensor();
    Tensor dW = need_dw ? Tensor::zeros(in[1].shape()) : Tensor();
    float* dxp = need_dx ? dx.data() : nullptr;
    float* dWp = need_dw ? dW.data() : nullptr;
    const float* xp = need_dw ? x.data() : nullptr;
    const float* wp = need_dx ? w.data() : nullptr;

    // Each image's weight gradient goes to its own buffer and is added to dW in image order, so dW is the
    // same sum, bit for bit, whatever the thread count and whichever thread computed which image.
    if (by_image) {
      BlasSingleThread single;
      std::vector<float*> bufs(static_cast<size_t>(omp_get_max_threads()), nullptr);
#pragma omp parallel
      {
        const int t = omp_get_thread_num(), T = omp_get_num_threads();
        float* buf = need_dw ? scratch(static_cast<size_t>(wsize), kDwSlot) : nullptr;
        bufs[t] = buf;
        for (int64_t wave = 0; wave < N; wave += T) {  // T images at a time, image wave + t on thread t
          const int64_t n = wave + t;
          if (n < N)
            backward_image(xp ? xp + n * xsize : nullptr, wp, dyp + n * K * HW, g, K,
                           dxp ? dxp + n * xsize : nullptr, buf);
          if (need_dw) {
#pragma omp barrier
            const int64_t count = std::min<int64_t>(T, N - wave);
#pragma omp for schedule(static)
            for (int64_t e = 0; e < wsize; ++e) {
              float s = dWp[e];
              for (int64_t i = 0; i < count; ++i) s += bufs[i][e];
              dWp[e] = s;
            }  // the implicit barrier here keeps bufs alive until everyone has read them
          }
        }
      }
    } else {
      float* buf = need_dw ? scratch(static_cast<size_t>(wsize), kDwSlot) : nullptr;
      for (int64_t n = 0; n < N; ++n) {
        backward_image(xp ? xp + n * xsize : nullptr, wp, dyp + n * K * HW, g, K, dxp ? dxp + n * xsize : nullptr,
                       buf);
        if (need_dw)
          for (int64_t e = 0; e < wsize; ++e) dWp[e] += buf[e];
      }
    }
    if (need_dx) in[0].accumulate_grad(dx);
    if (need_dw) in[1].accumulate_grad(dW);
  }
};

void forward_im2col(const float* xp, const float* wp, const float* bp, const ConvGeometry& g, int64_t N, int64_t K,
                    float* yp) {
  const int64_t xsize = g.C * g.H * g.W, ysize = K * g.Ho * g.Wo;
  if (parallel_over_images(N)) {
    BlasSingleThread single;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) forward_image(xp + n * xsize, wp, bp, g, K, yp + n * ysize);
  } else {
    for (int64_t n = 0; n < N; ++n) forward_image(xp + n * xsize, wp, bp, g, K, yp + n * ysize);
  }
}

// The whole batch at once: Winograd's products run over the tiles of every image (layers/winograd.h).
void forward_winograd(const float* xp, const float* wp, const float* bp, const ConvGeometry& g, int64_t N, int64_t K,
                      float* yp) {
  float* U = scratch(static_cast<size_t>(16 * K * g.C), kUSlot);
  winograd_filter_transform(wp, K, g.C, /*for_backward_data=*/false, U);
  winograd_conv3x3(xp, N, g.C, g.H, g.W, U, K, bp, yp);
}

template <typename F>
double seconds_of(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, Conv2dOptions opt) {
  CXR_CHECK(x.defined() && weight.defined(), "conv2d: input and weight must be defined");
  const Shape &xs = x.shape(), &ws = weight.shape();
  CXR_CHECK(xs.size() == 4, "conv2d: input must be [N, C, H, W], got ", to_string(xs));
  CXR_CHECK(ws.size() == 4, "conv2d: weight must be [K, C, kh, kw], got ", to_string(ws));
  CXR_CHECK(x.numel() > 0 && weight.numel() > 0, "conv2d: empty tensor: input ", to_string(xs), ", weight ",
            to_string(ws));
  CXR_CHECK(xs[1] == ws[1], "conv2d: input ", to_string(xs), " has ", xs[1], " channels but weight ", to_string(ws),
            " expects ", ws[1]);
  CXR_CHECK(opt.stride_h > 0 && opt.stride_w > 0 && opt.pad_h >= 0 && opt.pad_w >= 0,
            "conv2d: stride must be positive and padding non-negative, got stride (", opt.stride_h, ", ",
            opt.stride_w, ") padding (", opt.pad_h, ", ", opt.pad_w, ")");
  CXR_CHECK(xs[2] + 2 * opt.pad_h >= ws[2] && xs[3] + 2 * opt.pad_w >= ws[3], "conv2d: kernel ", ws[2], "x", ws[3],
            " of weight ", to_string(ws), " is larger than the padded input ", to_string(xs), " with padding (",
            opt.pad_h, ", ", opt.pad_w, ")");
  const int64_t N = xs[0], K = ws[0];
  if (bias.defined())
    CXR_CHECK(bias.shape() == Shape{K}, "conv2d: bias ", to_string(bias.shape()), " does not match weight ",
              to_string(ws), " (expected [", K, "])");

  ConvGeometry g{xs[1], xs[2], xs[3], ws[2], ws[3], opt.stride_h, opt.stride_w, opt.pad_h, opt.pad_w, 0, 0};
  g.Ho = conv_out_size(g.H, g.kh, opt.stride_h, opt.pad_h);
  g.Wo = conv_out_size(g.W, g.kw, opt.stride_w, opt.pad_w);

  const ConvShape shape{N, g.C, g.H, g.W, K, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw};
  ConvAlgo algo = resolve_conv_algo(conv_algo(), shape);
  if (opt.algo == ConvAlgo::winograd) {
    CXR_CHECK(shape.winograd_applicable(), "conv2d: Winograd needs a 3x3 kernel, stride 1 and padding 1, got weight ",
              to_string(ws), " stride (", opt.stride_h, ", ", opt.stride_w, ") padding (", opt.pad_h, ", ", opt.pad_w,
              ")");
    algo = ConvAlgo::winograd;
  } else if (opt.algo) {
    algo = resolve_conv_algo(*opt.algo, shape);
  }

  Tensor y = Tensor::empty({N, K, g.Ho, g.Wo});
  const float* xp = x.data().data();
  const float* wp = weight.data().data();
  const float* bp = bias.defined() ? bias.data().data() : nullptr;
  if (algo == ConvAlgo::automatic) {  // the first of this shape: run both, keep the faster and its output
    Tensor y2 = Tensor::empty(y.shape());
    const double t_im2col = seconds_of([&] { forward_im2col(xp, wp, bp, g, N, K, y.data()); });
    const double t_winograd = seconds_of([&] { forward_winograd(xp, wp, bp, g, N, K, y2.data()); });
    algo = t_winograd < t_im2col ? ConvAlgo::winograd : ConvAlgo::im2col;
    remember_conv_algo(shape, algo);
    if (algo == ConvAlgo::winograd) y = y2;
  } else if (algo == ConvAlgo::winograd) {
    forward_winograd(xp, wp, bp, g, N, K, y.data());
  } else {
    forward_im2col(xp, wp, bp, g, N, K, y.data());
  }

  std::vector<Variable> inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  // Backward keeps x only to recompute cols for dW, and W only for dx: nothing that will not be used.
  ConvBackward back{g, N, K, weight.requires_grad() ? x.data() : Tensor(), x.requires_grad() ? weight.data() : Tensor(),
                    bias.defined(), algo == ConvAlgo::winograd};
  return Variable::make(y, std::move(inputs), back, "conv2d", Saved{{back.x, back.w}});
}

}  // namespace cxr
