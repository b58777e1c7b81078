// The stub of exercise 7 (docs/EXERCISES.md; explain/score_cam.cpp is the closest existing weighting).
#include "exercises/ablation_cam.h"

namespace cxr::exercises {

AblationCam ablation_cam(const Tensor&, const std::function<float(const Tensor&)>&) {
  throw Error("TODO: exercise 7, ablation_cam (docs/EXERCISES.md)");
}

}  // namespace cxr::exercises
