// Running the built `cxr` (CXR_BINARY) from a test, as a user types it on the command line.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

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

// A temporary folder for one test's command-line run (removed afterwards): `cxr --threads 1 ARGS` with
// its output in DIR/log.txt, and the files the commands wrote there.
struct CliDir {
  std::filesystem::path dir;
  explicit CliDir(const std::string& tag)
      : dir(std::filesystem::temp_directory_path() / (tag + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~CliDir() { std::filesystem::remove_all(dir); }
  CliDir(const CliDir&) = delete;
  CliDir& operator=(const CliDir&) = delete;
  std::string path(const std::string& name) const { return (dir / name).string(); }
  int run(const std::string& args) const { return run_cxr("--threads 1 " + args, path("log.txt")); }
  std::string log() const { return read_text(path("log.txt")); }
  nlohmann::json json(const std::string& name) const {
    std::ifstream f(path(name));
    return nlohmann::json::parse(f);
  }
};

}  // namespace cxr_test
