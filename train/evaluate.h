// Running a trained model over a whole dataset: class probabilities for every sample, and the mean
// cross-entropy. Used by training (validation), `cxr eval`, `cxr predict` and the report. Also what
// `cxr eval` does besides scoring them: average several views of each image (test-time augmentation),
// average several models' (an ensemble), and write them out per image.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "models/model.h"

namespace cxr {

struct DatasetPredictions {
  std::vector<std::vector<float>> probs;  // [n][K] softmax probabilities, in dataset order
  std::vector<int> targets;               // [n]
  std::vector<int64_t> indices;           // [n] dataset index of each row (bad files skipped leave gaps)
  double loss = 0;                        // mean cross-entropy
  double accuracy() const;                // share of rows whose most probable class is the target; NaN if none
};

// Loader options for inference on `model`: no shuffling, no augmentation, every sample once.
data::LoaderOptions inference_loader_options(const ModelConfig& model, const image::Normalisation& norm, int batch,
                                           bool skip_bad = false);

// Runs the model in eval mode without recording a graph. Shows a progress bar when `label` is not empty.
// With opt.augment on, `epoch` picks the loader's augmentation draws (see data/loader.h).
DatasetPredictions predict_dataset(Model& model, const data::Dataset& ds, const data::LoaderOptions& opt,
                                   const std::string& label = "", int64_t epoch = 0);

// Data parallel (mpirun, dist/): each rank of `comm` predicts its contiguous share of `ds` in whole batches of
// opt.batch_size (dist::share_batches) with predict_dataset_tta, and rank 0 gets the predictions of the whole set in dataset order, as one process
// makes them (the loss: the mean over every image); the other ranks get an empty result. With one rank, it
// is predict_dataset_tta.
DatasetPredictions predict_dataset_sharded(Model& model, const data::Dataset& ds, const data::LoaderOptions& opt,
                                           const image::AugmentParams& augment, int views, const std::string& label,
                                           dist::Comm& comm);

// Test-time augmentation: the mean of `views` predictions (as average_predictions), the first on the plain
// images and view v >= 1 on the draws of `augment` that the loader makes in epoch v, so a given opt.seed
// always shows the model the same views. views = 1 is predict_dataset without augmentation. Every file is
// decoded twice in all (once for the plain view, once into the cache that the augmented views share),
// while the dataset fits in opt.cache_bytes.
DatasetPredictions predict_dataset_tta(Model& model, const data::Dataset& ds, data::LoaderOptions opt,
                                       const image::AugmentParams& augment, int views, const std::string& label = "");

// An ensemble: the mean of several models' probabilities, over the samples that every model read (a file
// skipped as unreadable by one run is left out of all). `loss` is the mean cross-entropy of the averaged
// probabilities. Throws if the runs differ in class count or in a sample's target (not the same dataset).
DatasetPredictions average_predictions(const std::vector<DatasetPredictions>& runs);

// The `source` of each prediction row's sample ("(none)" where one has none), for accuracy per source;
// empty when no sample has a source (evaluate() then reports no groups).
std::vector<std::string> source_groups(const data::Dataset& ds, const DatasetPredictions& p);

// One CSV row per sample: file, label, source, predicted, correct (0/1), then p_<class> for each class.
std::string predictions_csv(const data::Dataset& ds, const DatasetPredictions& p);

}  // namespace cxr
