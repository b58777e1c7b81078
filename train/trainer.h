// Training a classifier end to end: the loop behind `cxr train`.
//
// Per epoch: shuffled, augmented batches from data::Loader (prepared on worker threads while the current
// batch trains) -> forward -> cross-entropy -> backward -> optimizer step, with a live progress bar; then
// with precise_bn the batch-norm statistics recomputed on un-augmented training images
// (train/recalibrate.h), a validation pass, one Keras-like line, and RUN_DIR/history.csv.
// After every epoch, as one transaction that state.json commits (train/run_files.h: a crash at any
// moment leaves a set that resumes exactly):
//   RUN_DIR/last.safetensors (+ last.optim.safetensors, state.json)   the state to resume from
//   RUN_DIR/best.safetensors                                           the best val_loss so far
//   RUN_DIR/swa.safetensors (with swa_start)   the mean of the weights of epochs swa_start.. so far, with
//                                               batch-norm statistics recomputed for it, and validated
// Early stopping on val_loss with patience; the run's result is its best epoch, RUN_DIR/best.safetensors
// (Keras's restore_best_weights: what eval, explain and report read), while last.safetensors keeps the
// final epoch to resume from. Learning-rate schedule "plateau" (halve after plateau_patience epochs without
// improvement) or "cosine".
//
// Reproducible: the loader's order and augmentation are seeded per epoch, and every Dropout layer is
// re-seeded from (seed, epoch) at the start of each epoch, so resuming from last.safetensors gives the same
// final weights as an uninterrupted run with the same seed and thread count.
//
// Safety: a NaN/Inf loss stops training with a message naming the epoch and step, leaving the last good
// checkpoint in place; request_stop() (Ctrl-C, SIGTERM) finishes the current step, writes
// RUN_DIR/interrupted.safetensors and returns, leaving last.safetensors resumable.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "train/config.h"
#include "train/history.h"

namespace cxr {

struct TrainResult {
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_val_loss = 0;
  bool early_stopped = false;
  bool interrupted = false;
  std::string best_checkpoint, last_checkpoint;
  std::string swa_checkpoint;      // with swa_start: RUN_DIR/swa.safetensors once an epoch has been averaged
  double swa_val_loss = NAN, swa_val_accuracy = NAN;
  size_t peak_tensor_bytes = 0;    // the most tensor storage alive at once during the run (core/allocator.h)
};

// Starts a new run in cfg.out (which must not hold a previous run's state.json yet), after
// validate(cfg) (train/config.h) has checked the options.
TrainResult train(const TrainConfig& cfg, std::FILE* log = stdout);
// Continues the run in run_dir from its last completed epoch, with its saved configuration; `epochs` > 0
// changes the total number of epochs.
TrainResult resume(const std::string& run_dir, int epochs = 0, std::FILE* log = stdout);

// Asks a running train()/resume() to stop after the current step (async-signal-safe).
void request_stop();
// Installs SIGINT and SIGTERM handlers that call request_stop(); a second signal kills the process as
// usual (the run folder stays consistent: train/run_files.h).
void install_interrupt_handler();
// The exit status of a run stopped that way: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM).
int interrupt_exit_code();

}  // namespace cxr
