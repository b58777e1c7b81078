#include "train/run_files.h"

#include <filesystem>
#include <system_error>

#include "core/atomic_file.h"
#include "core/error.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace cxr {

nlohmann::json to_json(const RunState& s) {
  return {{"epochs_done", s.epochs_done}, {"best_val_loss", std::isfinite(s.best_val_loss) ? s.best_val_loss : 1e300},
          {"best_epoch", s.best_epoch}, {"bad_epochs", s.bad_epochs}};
}

RunState run_state_from_json(const nlohmann::json& j, const std::string& path) {
  const RunState d;
  nlohmann::json defaults = to_json(d);
  io::check_json_types(j, defaults, path);
  for (const auto& [key, v] : defaults.items())
    CXR_CHECK(j.contains(key), path, ": '", key, "' is missing (not the state.json of a cxr run)");
  RunState s;
  s.epochs_done = j.at("epochs_done").get<int>();
  s.best_val_loss = j.at("best_val_loss").get<double>();
  s.best_epoch = j.at("best_epoch").get<int>();
  s.bad_epochs = j.at("bad_epochs").get<int>();
  CXR_CHECK(s.epochs_done >= 0 && s.best_epoch >= 0 && s.best_epoch <= s.epochs_done && s.bad_epochs >= 0, path,
            ": epochs_done ", s.epochs_done, ", best_epoch ", s.best_epoch, ", bad_epochs ", s.bad_epochs,
            " do not describe a run (each >= 0, best_epoch <= epochs_done)");
  return s;
}

TrainConfig train_config_from_json(const nlohmann::json& j, const std::string& path) {
  io::check_json_types(j, nlohmann::json(TrainConfig{}), path);
  TrainConfig c;
  try {
    c = j.get<TrainConfig>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(str(path, ": not a cxr training configuration: ", e.what()));
  } catch (const Error& e) {  // parse_optimizer, parse_schedule: an unknown name
    throw Error(str(path, ": ", e.what()));
  }
  CXR_CHECK(c.freeze.empty() || c.freeze == "features", path, ": --freeze: unknown part '", c.freeze,
            "' (use features)");
  return c;
}

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
    cxr::sync_folder(fs::path(path).parent_path().string());
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
