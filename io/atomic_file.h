// Atomic file writes: a reader (or a crash) never sees half a file.
//
// The bytes go to a temporary file in the same folder (same filesystem, so rename is atomic), which is
// flushed to disk with fsync, then renamed over `path`; the folder is fsynced too so the rename survives a
// power cut. On any failure the temporary file is removed, `path` is left as it was, and cxr::Error is
// thrown with a message that starts with `path` and says what went wrong (with strerror).
// Used for images, checkpoints and reports.
#pragma once
#include <cstddef>
#include <string>

namespace cxr::io {

void write_file_atomic(const std::string& path, const void* data, size_t n);
void write_file_atomic(const std::string& path, const std::string& bytes);

// Reads a whole file into memory; throws cxr::Error ("<path>: cannot open: ...") on failure.
std::string read_file(const std::string& path);

}  // namespace cxr::io
