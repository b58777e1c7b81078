// Stochastic weight averaging (Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, "Averaging Weights Leads
// to Wider Optima and Better Generalization", UAI 2018; PyTorch's torch.optim.swa_utils).
//
// Why: late in training the weights wander around a wide, flat region of low training loss; their average
// sits nearer its centre than any one epoch's weights, and flat minima generalise better. It costs one
// extra copy of the weights, and per averaged epoch a batch-norm pass and a validation. The real chest
// X-rays pick their best epoch out of a noisy, overfitting run (docs/RESULTS.md §2): averaging the epochs
// instead of picking one is the natural alternative.
//
// The average is of the parameters only. Batch-norm running statistics are not averaged: they belong to
// the averaged weights, so they are recomputed for them (train/recalibrate.h) before the average is
// evaluated or saved.
//
// Files (`cxr train --swa-start`): RUN_DIR/swa.safetensors holds the average up to the last finished
// epoch, written in the epoch's transaction like last.safetensors (train/run_files.h), so a crash at any
// moment leaves an average that matches the state to resume from.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "models/model.h"

namespace cxr {

class WeightAverage {
 public:
  // `average` holds the running mean (a model of the same configuration as the ones added); `count`
  // models are already in it (0: it is overwritten by the first add), e.g. after loading a saved one.
  WeightAverage(std::shared_ptr<Model> average, int64_t count = 0);

  // average += (weights of m - average) / (count + 1): the plain mean of every model added.
  void add(Module& m);
  int64_t count() const { return count_; }
  Model& model() { return *average_; }

 private:
  std::shared_ptr<Model> average_;
  int64_t count_;
};

struct SwaValidation {
  double val_loss = 0, val_accuracy = 0;
};

// One epoch of SWA: adds `trained` to the average, recomputes the average's batch-norm statistics over
// epoch `epoch` of `bn_loader` (at most bn_steps batches, 0: all; skipped when bn_loader is null: no
// batch-norm), and validates the average on `val` with loader options `vo`. Progress goes to `log`.
SwaValidation average_epoch(WeightAverage& swa, Module& trained, data::Loader* bn_loader, int64_t bn_steps,
                            int64_t epoch, const data::Dataset& val, const data::LoaderOptions& vo, std::FILE* log);

}  // namespace cxr
