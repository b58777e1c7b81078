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

// str(a, b, c) concatenates anything printable: the way messages are built here.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace cxr

// CXR_CHECK(cond, parts...) throws cxr::Error(str(parts...)) when cond is false.
#define CXR_CHECK(cond, ...)                               \
  do {                                                     \
    if (!(cond)) throw ::cxr::Error(::cxr::str(__VA_ARGS__)); \
  } while (0)
