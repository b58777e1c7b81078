// Atomic write: temp file next to the target, fsync, rename, fsync the folder.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace cxr::io {
namespace {

std::string folder_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string errno_text() { return std::strerror(errno); }

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
  const char* p = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    ssize_t w = ::write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  if (fsync(fd) != 0) fail("fsync failed");
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
  int dfd = open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY);
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

}  // namespace cxr::io
