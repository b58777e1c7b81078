// The stub of exercise 1: replace the throw with the op (docs/EXERCISES.md; autograd/ops.cpp's mul shows
// how an output, its inputs and a backward closure are recorded together).
#include "exercises/sigmoid.h"

namespace cxr::exercises {

Variable sigmoid(const Variable&) { throw Error("TODO: exercise 1, sigmoid (docs/EXERCISES.md)"); }

}  // namespace cxr::exercises
