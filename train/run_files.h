// The files of a run folder, and the order they are written in, so that a crash at any moment (SIGKILL,
// a power cut, a full disk) leaves a set that `cxr train --resume` continues exactly.
//
//   RUN_DIR/config.json              the options, written once before epoch 1
//   RUN_DIR/state.json               THE COMMIT RECORD: epochs done, best epoch, plateau counter
//   RUN_DIR/last.safetensors         the weights after state.epochs_done (its metadata's epoch says so)
//   RUN_DIR/last.optim.safetensors   the optimizer after the same epoch (its step count is last's step)
//   RUN_DIR/best.safetensors         the weights of state.best_epoch
//   RUN_DIR/swa.safetensors          (--swa-start) the weight average up to state.epochs_done
//   RUN_DIR/history.csv              one row per epoch; rows past state.epochs_done are ignored
//   RUN_DIR/interrupted.safetensors  (Ctrl-C, SIGTERM) the weights at the stop; resume does not read it
//
// The end of an epoch is a transaction whose commit is the atomic rename that puts state.json in place:
//   1. a file about to change is first renamed to its .prev name (last.safetensors -> last.prev.safetensors),
//      so the committed version stays on disk under one of the two names at every moment;
//   2. its new version is written atomically (temp file, fsync, rename, fsync of the folder: core/atomic_file.h);
//   3. state.json is written the same way: from here on the new set is the run's;
//   4. the .prev files are removed.
// A crash before 3 leaves state.json at the previous epoch and each file's previous version under its own
// name or its .prev name; a crash after 3 leaves the new set (and perhaps stale .prev files). On resume,
// recover_run_folder() puts the committed version of every file back under its own name, by the epoch
// each file records, removes the rest (.prev files, temp files of an interrupted write), and only then
// does training go on. Before the first commit (no state.json yet) resume starts again at epoch 1.
#pragma once
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "train/config.h"

namespace cxr {

// state.json: the commit record.
struct RunState {
  int epochs_done = 0;
  double best_val_loss = INFINITY;
  int best_epoch = 0;
  int bad_epochs = 0;  // epochs since the best val_loss
};
nlohmann::json to_json(const RunState& s);
// The parsed state.json of `path`: every field present, of its type and in range (epochs_done >= 0,
// 0 <= best_epoch <= epochs_done, bad_epochs >= 0), else cxr::Error naming `path` and the field.
RunState run_state_from_json(const nlohmann::json& j, const std::string& path);
// config.json: the options of the run (fields of the wrong type, and an unknown optimizer, schedule or
// --freeze part, are refused naming `path`).
TrainConfig train_config_from_json(const nlohmann::json& j, const std::string& path);

// The paths of the files above, in one folder.
struct RunFiles {
  std::string dir, config, state, last, last_opt, best, swa, history, interrupted;
};
RunFiles run_files(const std::string& dir);

// last.safetensors -> last.prev.safetensors (any other name: NAME.prev).
std::string prev_path(const std::string& path);

// Step 1: moves `path` (if it exists) to prev_path(path). The caller then writes the new `path`.
void keep_previous(const std::string& path);

// Step 4: removes prev_path(path) if it is there.
void drop_previous(const std::string& path);

// On resume: makes `path` the version `is_committed` accepts (it is called with a file name and reads
// that file's header): `path` itself, else prev_path(path), which is renamed over it. The other one is
// removed. Throws cxr::Error naming both files and `what` ("the weights after epoch 7") when neither is.
void restore_committed(const std::string& path, const std::string& what,
                       const std::function<bool(const std::string&)>& is_committed);

// Removes the temporary files an interrupted atomic write leaves in `dir` (NAME.tmp.XXXXXX).
void remove_stray_temporaries(const std::string& dir);

}  // namespace cxr
