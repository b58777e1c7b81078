// The stub of exercise 3 (docs/EXERCISES.md).
#include "exercises/avg_pool.h"

namespace cxr::exercises {

Variable avg_pool(const Variable&, int) { throw Error("TODO: exercise 3, avg_pool (docs/EXERCISES.md)"); }

}  // namespace cxr::exercises
