// The stub of exercise 4 (docs/EXERCISES.md).
#include "exercises/matmul.h"

namespace cxr::exercises {

Variable matmul(const Variable&, const Variable&) { throw Error("TODO: exercise 4, matmul (docs/EXERCISES.md)"); }

}  // namespace cxr::exercises
