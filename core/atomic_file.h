// Atomic file writes: a reader (or a crash) never sees half a file.
//
// The bytes go to a temporary file in the same folder (same filesystem, so rename is atomic), which is
// flushed to disk with fsync, then renamed over `path`; the folder is fsynced too so the rename survives a
// power cut. On any failure the temporary file is removed, `path` is left as it was, and cxr::Error is
// thrown with a message that starts with `path` and says what went wrong (with strerror).
// Used for images, checkpoints and reports.
//
// Two hooks, read from the environment once, let the tests reproduce what a user's machine does:
//   CXR_TEST_WRITE_DELAY_MS=N  sleep N ms half-way through each write and again before the rename, so a
//                              test's SIGKILL lands inside writes (tests/test_crash_resume.cpp);
//   CXR_TEST_DISK_BYTES=N      a disk that holds N bytes of this process's atomic writes: past that,
//                              write() fails with ENOSPC as on a full filesystem.
// Neither is set in normal use, and then neither costs anything.
#pragma once
#include <cstddef>
#include <string>

namespace cxr {

void write_file_atomic(const std::string& path, const void* data, size_t n);
void write_file_atomic(const std::string& path, const std::string& bytes);

// fsync of a folder, so that a rename in it survives a power cut (best effort: errors are ignored).
void sync_folder(const std::string& folder);

// Reads a whole file into memory; throws cxr::Error ("<path>: cannot open: ...") on failure.
std::string read_file(const std::string& path);

}  // namespace cxr
