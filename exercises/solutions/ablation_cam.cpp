// Reference solution of exercise 7.
#include "exercises/ablation_cam.h"

namespace cxr::exercises {

AblationCam ablation_cam(const Tensor& A, const std::function<float(const Tensor&)>& head) {
  check_dims(A, 3, "ablation_cam");
  const int64_t C = A.size(0), hw = A.size(1) * A.size(2);
  const float y = head(A);
  CXR_CHECK(y != 0.0f, "ablation_cam: the class score is 0, so no share of it can be lost");
  AblationCam r{Tensor::empty({C}), Tensor::zeros({A.size(1), A.size(2)})};
  Tensor ablated = A.clone();  // one copy, one channel zeroed at a time: A itself stays as it was
  for (int64_t k = 0; k < C; ++k) {
    float* plane = ablated.data() + k * hw;
    for (int64_t i = 0; i < hw; ++i) plane[i] = 0.0f;
    r.weights[k] = (y - head(ablated)) / y;
    for (int64_t i = 0; i < hw; ++i) plane[i] = A[k * hw + i];
  }
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < hw; ++i) r.raw[i] += r.weights[k] * A[k * hw + i];
  return r;
}

}  // namespace cxr::exercises
