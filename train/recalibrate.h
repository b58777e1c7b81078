// Batch-norm recalibration ("precise BN"): recompute every BatchNorm2d's running mean and variance as the
// plain average over a pass of un-augmented training batches, with the weights fixed.
//
// Why: the running statistics that training leaves behind are an exponential average (momentum 0.1) of
// the last few dozen batches, taken while the weights were still moving and on augmented images (shifted,
// zoomed, with black borders), while evaluation sees still weights and clean images. Wu & Johnson,
// "Rethinking 'Batch' in BatchNorm" (2021, arXiv:2105.07576) show the mismatch costs accuracy and that
// averaging the statistics of fixed weights over many batches ("PreciseBN") removes it. Each batch's mean
// and unbiased variance count equally (PyTorch's momentum=None).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "data/loader.h"
#include "models/model.h"

namespace cxr {

struct RecalibrateResult {
  int layers = 0;        // BatchNorm2d layers recalibrated (0: the model has none; nothing was done)
  int64_t batches = 0;   // batches averaged
  int64_t images = 0;
};

// Runs epoch `epoch` of `loader` through `model` in training mode without a graph, at most max_batches
// batches (0: all). Give it a shuffled loader without augmentation, with drop_last so that every batch has
// the same weight. The statistics start afresh (a NaN left by a diverged run does not survive), and so
// does num_batches_tracked, which ends as the number of batches averaged (as update_bn leaves it); with no
// batch at all (batches == 0) they are left as they were. Only the batch-norm buffers change; the model is
// left in eval mode. `after_batch(batches done, images done)`, when given, is called after each batch
// (a progress bar); returning false stops the pass there, with the statistics of the batches so far.
RecalibrateResult recalibrate_batchnorm(Model& model, data::Loader& loader, int64_t epoch, int64_t max_batches = 0,
                                        const std::function<bool(int64_t, int64_t)>& after_batch = {});

// The same pass behind a progress bar labelled `label` on `log` (training's --precise-bn and SWA):
// max_batches capped at the loader's epoch (0: all of it); `keep_going()`, when given, is asked after each
// batch, and false stops the pass there.
RecalibrateResult recalibrate_with_progress(Model& model, data::Loader& loader, int64_t epoch, int64_t max_batches,
                                            const std::string& label, std::FILE* log,
                                            const std::function<bool()>& keep_going = {});

}  // namespace cxr
