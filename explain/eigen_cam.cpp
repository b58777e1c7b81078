// Eigen-CAM: the first principal component of a layer's activations, as a map over its positions.
//
// X = A reshaped to [positions, channels] with each channel's mean over the positions subtracted. Its first
// principal direction v1 (top eigenvector of X^T X) projected back, X v1 = sigma1 u1, is the map. It is
// computed from whichever Gram matrix is smaller: X X^T (positions^2: 196 x 196 for VGG-16's relu5_3 at 224)
// gives u1 and sigma1 = sqrt(lambda1); X^T X (channels^2) gives v1 and then X v1. The top eigenvector comes
// from power iteration in double precision, accelerated by first squaring the (trace-normalised) matrix a few
// times: M^64 has the eigenvalue ratio lambda2/lambda1 raised to the 64th power, so a handful of iterations
// converge even when the two leading eigenvalues are close.
#include <cmath>
#include <vector>

#include "explain/cam.h"

namespace cxr {

namespace {

using Mat = std::vector<double>;  // n x n, row-major

Mat matmul(const Mat& a, const Mat& b, int64_t n) {
  Mat c(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const double aik = a[static_cast<size_t>(i * n + k)];
      if (aik == 0.0) continue;
      for (int64_t j = 0; j < n; ++j) c[static_cast<size_t>(i * n + j)] += aik * b[static_cast<size_t>(k * n + j)];
    }
  return c;
}

double trace(const Mat& a, int64_t n) {
  double t = 0;
  for (int64_t i = 0; i < n; ++i) t += a[static_cast<size_t>(i * n + i)];
  return t;
}

std::vector<double> matvec(const Mat& a, const std::vector<double>& v, int64_t n) {
  std::vector<double> r(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += a[static_cast<size_t>(i * n + j)] * v[static_cast<size_t>(j)];
    r[static_cast<size_t>(i)] = s;
  }
  return r;
}

double normalise(std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  s = std::sqrt(s);
  if (s > 0)
    for (double& x : v) x /= s;
  return s;
}

// Top eigenvector (unit length) and eigenvalue of a symmetric positive semi-definite matrix.
std::vector<double> top_eigenvector(const Mat& g, int64_t n, double* lambda) {
  std::vector<double> v(static_cast<size_t>(n), 0.0);
  *lambda = 0.0;
  const double tr = trace(g, n);
  if (!(tr > 0.0)) return v;
  // Start from the largest column of g^(2^k): nearly the top eigenvector already.
  Mat p = g;
  for (double& x : p) x /= tr;
  if (n <= 384)
    for (int k = 0; k < 6; ++k) {
      p = matmul(p, p, n);
      const double t = trace(p, n);
      if (!(t > 0.0)) break;
      for (double& x : p) x /= t;
    }
  int64_t best = 0;
  double best_norm = -1;
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += p[static_cast<size_t>(i * n + j)] * p[static_cast<size_t>(i * n + j)];
    if (s > best_norm) best_norm = s, best = j;
  }
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = p[static_cast<size_t>(i * n + best)];
  if (normalise(v) == 0.0) v.assign(static_cast<size_t>(n), 1.0 / std::sqrt(static_cast<double>(n)));
  for (int it = 0; it < 2000; ++it) {
    std::vector<double> w = matvec(g, v, n);
    if (normalise(w) == 0.0) break;
    double diff = 0;
    for (int64_t i = 0; i < n; ++i)
      diff = std::max(diff, std::fabs(w[static_cast<size_t>(i)] - v[static_cast<size_t>(i)]));
    v.swap(w);
    if (diff < 1e-13) break;
  }
  std::vector<double> gv = matvec(g, v, n);
  double l = 0;
  for (int64_t i = 0; i < n; ++i) l += v[static_cast<size_t>(i)] * gv[static_cast<size_t>(i)];
  *lambda = l;
  return v;
}

}  // namespace

Tensor eigen_cam(const Tensor& A) {
  check_dims(A, 3, "eigen_cam");
  const int64_t C = A.size(0), h = A.size(1), w = A.size(2), P = h * w;
  // X [P, C], centred per channel.
  std::vector<double> X(static_cast<size_t>(P * C));
  for (int64_t k = 0; k < C; ++k) {
    const float* a = A.data() + k * P;
    double mean = 0;
    for (int64_t i = 0; i < P; ++i) mean += a[i];
    mean /= static_cast<double>(P);
    for (int64_t i = 0; i < P; ++i) X[static_cast<size_t>(i * C + k)] = (std::isfinite(a[i]) ? a[i] : 0.0) - mean;
  }
  std::vector<double> proj(static_cast<size_t>(P), 0.0);
  double lambda = 0;
  if (P <= C) {
    Mat G(static_cast<size_t>(P * P), 0.0);
    for (int64_t i = 0; i < P; ++i)
      for (int64_t j = i; j < P; ++j) {
        double s = 0;
        for (int64_t k = 0; k < C; ++k) s += X[static_cast<size_t>(i * C + k)] * X[static_cast<size_t>(j * C + k)];
        G[static_cast<size_t>(i * P + j)] = G[static_cast<size_t>(j * P + i)] = s;
      }
    std::vector<double> u = top_eigenvector(G, P, &lambda);
    const double sigma = std::sqrt(std::max(lambda, 0.0));
    for (int64_t i = 0; i < P; ++i) proj[static_cast<size_t>(i)] = sigma * u[static_cast<size_t>(i)];
  } else {
    Mat G(static_cast<size_t>(C * C), 0.0);
    for (int64_t i = 0; i < P; ++i)
      for (int64_t a = 0; a < C; ++a) {
        const double xa = X[static_cast<size_t>(i * C + a)];
        if (xa == 0.0) continue;
        for (int64_t b = 0; b < C; ++b) G[static_cast<size_t>(a * C + b)] += xa * X[static_cast<size_t>(i * C + b)];
      }
    std::vector<double> v = top_eigenvector(G, C, &lambda);
    for (int64_t i = 0; i < P; ++i) {
      double s = 0;
      for (int64_t k = 0; k < C; ++k) s += X[static_cast<size_t>(i * C + k)] * v[static_cast<size_t>(k)];
      proj[static_cast<size_t>(i)] = s;
    }
  }
  // Sign: correlate positively with the mean activation over channels.
  std::vector<double> mean_map(static_cast<size_t>(P), 0.0);
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < P; ++i) mean_map[static_cast<size_t>(i)] += A.data()[k * P + i] / static_cast<double>(C);
  double mp = 0, mm = 0, corr = 0;
  for (int64_t i = 0; i < P; ++i) mp += proj[static_cast<size_t>(i)], mm += mean_map[static_cast<size_t>(i)];
  mp /= static_cast<double>(P), mm /= static_cast<double>(P);
  for (int64_t i = 0; i < P; ++i) corr += (proj[static_cast<size_t>(i)] - mp) * (mean_map[static_cast<size_t>(i)] - mm);
  const double sign = corr < 0 ? -1.0 : 1.0;
  Tensor out = Tensor::empty({h, w});
  for (int64_t i = 0; i < P; ++i) out[i] = static_cast<float>(sign * proj[static_cast<size_t>(i)]);
  return out;
}

}  // namespace cxr
