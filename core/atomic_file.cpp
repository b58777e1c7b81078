// Atomic write: temp file next to the target, fsync, rename, fsync the folder.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

namespace cxr {
namespace {

std::string folder_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string errno_text() { return std::strerror(errno); }

int64_t env_number(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

// The test hooks of atomic_file.h.
void test_delay() {
  static const int64_t ms = env_number("CXR_TEST_WRITE_DELAY_MS", 0);
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// write(2), or ENOSPC once the simulated disk of CXR_TEST_DISK_BYTES is full.
ssize_t write_some(int fd, const char* p, size_t n) {
  static const int64_t disk = env_number("CXR_TEST_DISK_BYTES", -1);
  static std::atomic<int64_t> used{0};
  if (disk >= 0) {
    const int64_t room = disk - used.load();
    if (room <= 0) {
      errno = ENOSPC;
      return -1;
    }
    n = std::min<size_t>(n, static_cast<size_t>(room));
  }
  const ssize_t w = ::write(fd, p, n);
  if (w > 0 && disk >= 0) used += w;
  return w;
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  CXR_CHECK(!path.empty(), "write_file_atomic: empty path");
  // mkstemp gives a unique name, so two writers of the same target never share a temp file.
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  CXR_CHECK(fd >= 0, path, ": cannot create temporary file ", tmpl, ": ", errno_text());
  std::string tmp(name.data());
  // mkstemp creates with mode 0600; give the file the usual permissions (subject to umask).
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);

  auto fail = [&](const char* what) {
    std::string msg = str(path, ": ", what, ": ", errno_text());
    close(fd);
    unlink(tmp.c_str());
    throw Error(msg);
  };
  auto write_all = [&](const char* p, size_t left) {
    while (left > 0) {
      const ssize_t w = write_some(fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("write failed");
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
  };
  const char* bytes = static_cast<const char*>(data);
  write_all(bytes, n / 2);
  test_delay();  // a test's SIGKILL can land half-way through a file
  write_all(bytes + n / 2, n - n / 2);
  if (fsync(fd) != 0) fail("fsync failed");
  test_delay();
  if (close(fd) != 0) {
    std::string msg = str(path, ": close failed: ", errno_text());
    unlink(tmp.c_str());
    throw Error(msg);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = str(path, ": cannot rename temporary file into place: ", errno_text());
    unlink(tmp.c_str());
    throw Error(msg);
  }
  // Make the rename itself durable. Failure here is not fatal: the data is already in place.
  sync_folder(folder_of(path));
}

void sync_folder(const std::string& folder) {
  int dfd = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

std::string read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  CXR_CHECK(f != nullptr, path, ": cannot open: ", errno_text());
  std::string out;
  char buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
  bool bad = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  CXR_CHECK(!bad, path, ": read error: ", std::strerror(err));
  return out;
}

}  // namespace cxr
