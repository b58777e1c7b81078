#include "train/evaluate.h"

#include <cmath>

#include "core/progress.h"
#include "layers/loss.h"

namespace cxr {

io::LoaderOptions inference_loader_options(const ModelConfig& model, const io::Normalisation& norm, int batch,
                                           bool skip_bad) {
  io::LoaderOptions o;
  o.image_size = model.input_size;
  o.channels = model.in_channels;
  o.batch_size = batch;
  o.shuffle = false;
  o.drop_last = false;
  o.balanced = false;
  o.normalisation = norm;
  o.skip_bad = skip_bad;
  return o;
}

DatasetPredictions predict_dataset(Model& model, const io::Dataset& ds, const io::LoaderOptions& opt,
                                   const std::string& label) {
  const int K = model.config().num_classes;
  DatasetPredictions out;
  out.probs.assign(ds.size(), {});
  out.targets.assign(ds.size(), -1);
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  io::Loader loader(ds, opt);
  loader.start_epoch(0);
  std::unique_ptr<Progress> bar;
  if (!label.empty()) bar = std::make_unique<Progress>(label, loader.batches_per_epoch());
  io::Batch b;
  double loss_sum = 0;
  int64_t seen = 0, step = 0;
  while (loader.next(b)) {
    Variable logits = model(Variable(b.images));
    loss_sum += cross_entropy(logits, b.labels).item() * b.size();
    Tensor p = softmax(logits.data());
    for (int64_t i = 0; i < b.size(); ++i) {
      out.probs[b.indices[i]].assign(p.data() + i * K, p.data() + (i + 1) * K);
      out.targets[b.indices[i]] = b.labels[i];
    }
    seen += b.size();
    if (bar) bar->update(++step, {}, seen);
  }
  if (bar) bar->finish();
  // Samples skipped as bad files are left out.
  std::vector<std::vector<float>> probs;
  std::vector<int> targets;
  for (int64_t i = 0; i < ds.size(); ++i)
    if (out.targets[i] >= 0) {
      probs.push_back(std::move(out.probs[i]));
      targets.push_back(out.targets[i]);
      out.indices.push_back(i);
    }
  out.probs = std::move(probs);
  out.targets = std::move(targets);
  out.loss = seen ? loss_sum / seen : NAN;
  model.train(was_training);
  return out;
}

}  // namespace cxr
