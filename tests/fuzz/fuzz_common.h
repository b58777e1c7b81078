// Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp; scripts/fuzz.sh runs them).
//
// A harness hands the fuzzer's bytes to one parser exactly as cxr does with a file from outside. A
// cxr::Error is the parser refusing the input, which is what it should do: it is caught. Anything else
// (a crash, a sanitizer report, another exception type escaping, a leak, a timeout, running out of the
// memory limit) is a finding, and libFuzzer stops with the input that caused it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "core/error.h"

#define CXR_FUZZ_REFUSAL_OK(...) \
  do {                           \
    try {                        \
      __VA_ARGS__;               \
    } catch (const cxr::Error&) { \
    }                            \
  } while (0)

namespace cxr::fuzz {

// A file holding the input, for parsers that take only a path (in /dev/shm when there is one: no disk I/O).
inline std::string write_temp_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = [&] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/cxr_fuzz_" + std::to_string(getpid()) + suffix;
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace cxr::fuzz
