// Errors: every failure in cxr is a cxr::Error whose message says what is wrong and where (file, shapes).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/strings.h"  // join: messages list names

namespace cxr {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A broken internal invariant (CXR_ASSERT): a bug in cxr, never a problem with the user's input or files.
struct InternalError : Error {
  using Error::Error;
};

// str(a, b, c) concatenates anything printable: the way messages are built here.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace cxr

// Two kinds of checks, as PyTorch's TORCH_CHECK and TORCH_INTERNAL_ASSERT:
//
// CXR_CHECK(cond, parts...): what a user, a file or a caller of the library can get wrong (a bad option, a
// truncated PNG, mismatched shapes). Throws cxr::Error(str(parts...)): the message says what is wrong and
// where (the file, the shapes), and the CLI prints it as one line.
#define CXR_CHECK(cond, ...)                               \
  do {                                                     \
    if (!(cond)) throw ::cxr::Error(::cxr::str(__VA_ARGS__)); \
  } while (0)

// CXR_ASSERT(cond, parts...): what cxr's own code guarantees (a reducer begun once per step, a batch's
// pieces in step). Throws cxr::InternalError naming the source line and the condition, and saying that it
// is a bug to report: no input can make it fail.
#define CXR_ASSERT(cond, ...)                                                                          \
  do {                                                                                                 \
    if (!(cond))                                                                                       \
      throw ::cxr::InternalError(::cxr::str(__FILE__, ":", __LINE__, ": internal error: ", #cond, ": ", \
                                            __VA_ARGS__, " (this is a bug in cxr; please report it)"));  \
  } while (0)
