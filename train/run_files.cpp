#include "train/run_files.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace cxr {

RunFiles run_files(const std::string& dir) {
  auto in = [&](const char* name) { return (fs::path(dir) / name).string(); };
  return {dir,           in("config.json"), in("state.json"),  in("last.safetensors"), in("last.optim.safetensors"),
          in("best.safetensors"), in("swa.safetensors"), in("history.csv"), in("interrupted.safetensors")};
}

std::string prev_path(const std::string& path) {
  const std::string ext = ".safetensors";
  if (path.size() > ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
    return path.substr(0, path.size() - ext.size()) + ".prev" + ext;
  return path + ".prev";
}

void keep_previous(const std::string& path) {
  if (!fs::exists(path)) return;
  std::error_code ec;
  fs::rename(path, prev_path(path), ec);  // atomic: one of the two names holds the committed version
  CXR_CHECK(!ec, "cannot rename ", path, " to ", prev_path(path), ": ", ec.message());
}

void drop_previous(const std::string& path) {
  std::error_code ec;
  fs::remove(prev_path(path), ec);  // gone already is fine
}

void restore_committed(const std::string& path, const std::string& what,
                       const std::function<bool(const std::string&)>& is_committed) {
  const std::string prev = prev_path(path);
  // A file that cannot be read (cut short by a crash outside cxr's atomic writes) is not the committed one.
  auto holds_it = [&](const std::string& p) {
    if (!fs::exists(p)) return false;
    try {
      return is_committed(p);
    } catch (const Error&) {
      return false;
    }
  };
  std::error_code ec;
  if (holds_it(path)) {
    fs::remove(prev, ec);
    return;
  }
  if (holds_it(prev)) {
    fs::rename(prev, path, ec);
    CXR_CHECK(!ec, "cannot rename ", prev, " to ", path, ": ", ec.message());
    io::sync_folder(fs::path(path).parent_path().string());
    return;
  }
  throw Error(str("cannot resume: neither ", path, " nor ", prev, " holds ", what,
                  fs::exists(path) || fs::exists(prev) ? "" : " (both are missing)"));
}

void remove_stray_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at != std::string::npos && name.size() == at + 5 + 6 && e.is_regular_file()) fs::remove(e.path(), ec);
  }
}

}  // namespace cxr
