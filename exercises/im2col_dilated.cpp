// The stub of exercise 5 (docs/EXERCISES.md; layers/im2col.cpp is the same without dilation).
#include "exercises/im2col_dilated.h"

#include "core/error.h"

namespace cxr::exercises {

void im2col_dilated(const float*, const DilatedGeometry&, float*) {
  throw Error("TODO: exercise 5, im2col_dilated (docs/EXERCISES.md)");
}

}  // namespace cxr::exercises
