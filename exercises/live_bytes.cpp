// The stub of exercise 8: replace the throw by the four numbers, each a formula in n (docs/EXERCISES.md).
#include "exercises/live_bytes.h"

#include "core/error.h"

namespace cxr::exercises {

LiveBytes predict_live_bytes(int64_t) { throw Error("TODO: exercise 8, predict_live_bytes (docs/EXERCISES.md)"); }

}  // namespace cxr::exercises
