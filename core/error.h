// Errors: every failure in cxr is a cxr::Error whose message says what is wrong and where (file, shapes).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

// join({"a", "b"}, " | ") == "a | b": lists of names in messages and help texts.
inline std::string join(const std::vector<std::string>& parts, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

}  // namespace cxr

// CXR_CHECK(cond, parts...) throws cxr::Error(str(parts...)) when cond is false.
#define CXR_CHECK(cond, ...)                               \
  do {                                                     \
    if (!(cond)) throw ::cxr::Error(::cxr::str(__VA_ARGS__)); \
  } while (0)
