// Running the built `cxr` (CXR_BINARY) from a test, as a user types it on the command line.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace cxr_test {

// Runs `cxr ARGS` with stdout and stderr both to log_path; returns its exit status (-1: it did not exit).
inline int run_cxr(const std::string& args, const std::string& log_path) {
  const std::string cmd = std::string(CXR_BINARY) + " " + args + " > " + log_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The whole file as text ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace cxr_test
