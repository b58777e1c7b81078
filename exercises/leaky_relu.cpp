// The stub of exercise 2 (docs/EXERCISES.md; layers/activation.cpp's relu keeps such a mask).
#include "exercises/leaky_relu.h"

namespace cxr::exercises {

Variable leaky_relu(const Variable&, float) { throw Error("TODO: exercise 2, leaky_relu (docs/EXERCISES.md)"); }

}  // namespace cxr::exercises
