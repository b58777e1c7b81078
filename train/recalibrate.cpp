#include "train/recalibrate.h"

#include <algorithm>
#include <vector>

#include "autograd/variable.h"
#include "core/progress.h"
#include "layers/modules.h"

namespace cxr {

RecalibrateResult recalibrate_batchnorm(Model& model, data::Loader& loader, int64_t epoch, int64_t max_batches,
                                        const std::function<bool(int64_t, int64_t)>& after_batch) {
  RecalibrateResult r;
  std::vector<BatchNorm2d*> bns;
  for (auto& l : model.layers())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(l.module)) bns.push_back(bn);
  r.layers = static_cast<int>(bns.size());
  if (bns.empty()) {
    model.eval();
    return r;
  }
  std::vector<float> momentum;
  for (BatchNorm2d* bn : bns) momentum.push_back(bn->momentum);
  // Restores the momenta however this ends (an unreadable image throws from the loader).
  struct Restore {
    std::vector<BatchNorm2d*>& bns;
    std::vector<float>& momentum;
    Model& model;
    ~Restore() {
      for (size_t i = 0; i < bns.size(); ++i) bns[i]->momentum = momentum[i];
      model.eval();
    }
  } restore{bns, momentum, model};

  model.train();
  NoGradGuard no_grad;
  loader.start_epoch(epoch);
  data::Batch b;
  while ((max_batches <= 0 || r.batches < max_batches) && loader.next(b)) {
    // Batch k (from 0) enters with weight 1/(k+1): after k+1 batches the buffers hold their plain mean.
    // Before the first, the old values are cleared: weight 0 times a NaN would still be a NaN. The count
    // starts afresh too, so it says how many batches the statistics are the mean of (update_bn's count).
    for (BatchNorm2d* bn : bns) {
      if (r.batches == 0) {
        bn->state.running_mean.fill(0.0f);
        bn->state.running_var.fill(1.0f);
        bn->num_batches_tracked.fill(0.0f);  // the buffer forward() counts from
      }
      bn->momentum = 1.0f / static_cast<float>(r.batches + 1);
    }
    model(Variable(b.images));
    ++r.batches;
    r.images += b.size();
    if (after_batch && !after_batch(r.batches, r.images)) break;
  }
  return r;
}

RecalibrateResult recalibrate_with_progress(Model& model, data::Loader& loader, int64_t epoch, int64_t max_batches,
                                            const std::string& label, std::FILE* log,
                                            const std::function<bool()>& keep_going) {
  const int64_t all = loader.batches_per_epoch();
  const int64_t steps = max_batches > 0 ? std::min(max_batches, all) : all;
  Progress bar(label, steps, log);
  RecalibrateResult r = recalibrate_batchnorm(model, loader, epoch, steps, [&](int64_t done, int64_t images) {
    bar.update(done, {}, images);
    return !keep_going || keep_going();
  });
  bar.finish();
  return r;
}

}  // namespace cxr
