// Reference solution of exercise 3.
#include "exercises/avg_pool.h"

namespace cxr::exercises {

Variable avg_pool(const Variable& x, int k) {
  check_dims(x.data(), 4, "avg_pool");
  CXR_CHECK(k >= 1, "avg_pool: kernel ", k, " must be at least 1");
  const Shape shape = x.shape();
  const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
  CXR_CHECK(H % k == 0 && W % k == 0, "avg_pool: input ", to_string(shape), " is not a multiple of k = ", k);
  const int64_t Ho = H / k, Wo = W / k, planes = N * C;
  const float inv = 1.0f / static_cast<float>(k * k);
  Tensor out = Tensor::empty({N, C, Ho, Wo});
  const float* px = x.data().data();
  float* py = out.data();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        float acc = 0;
        for (int64_t a = 0; a < k; ++a)
          for (int64_t b = 0; b < k; ++b) acc += px[(p * H + i * k + a) * W + j * k + b];
        py[(p * Ho + i) * Wo + j] = acc * inv;
      }
  // Backward needs the shape only: each pixel belongs to exactly one window.
  return Variable::make(out, {x}, [shape, k, inv](const Tensor& g, std::vector<Variable>& inputs) {
    const int64_t H = shape[2], W = shape[3], Ho = H / k, Wo = W / k, planes = shape[0] * shape[1];
    Tensor gx = Tensor::empty(shape);
    float* d = gx.data();
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) d[(p * H + h) * W + w] = g[(p * Ho + h / k) * Wo + w / k] * inv;
    inputs[0].accumulate_grad(gx);
  }, "avg_pool");
}

}  // namespace cxr::exercises
