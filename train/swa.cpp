#include "train/swa.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "train/evaluate.h"
#include "train/recalibrate.h"

namespace fs = std::filesystem;

namespace cxr {

WeightAverage::WeightAverage(std::shared_ptr<Model> average, int64_t count)
    : average_(std::move(average)), count_(count) {
  CXR_CHECK(average_ != nullptr && count_ >= 0, "WeightAverage: needs a model and a count >= 0");
}

void WeightAverage::add(Module& m) {
  auto avg = average_->named_parameters();
  auto cur = m.named_parameters();
  CXR_CHECK(avg.size() == cur.size(), "WeightAverage: the model has ", cur.size(), " parameters, the average ",
            avg.size());
  // In double per element: the mean of n floats, updated n times, stays within rounding of the true mean.
  const double w = 1.0 / static_cast<double>(count_ + 1);
  for (size_t i = 0; i < avg.size(); ++i) {
    Tensor& a = avg[i].second->data();
    const Tensor& x = cur[i].second->data();
    CXR_CHECK(avg[i].first == cur[i].first && a.shape() == x.shape(), "WeightAverage: parameter ", cur[i].first,
              " ", to_string(x.shape()), " does not match the average's ", avg[i].first, " ",
              to_string(a.shape()));
    float* pa = a.data();
    const float* px = x.data();
    if (count_ == 0) {  // the first model is the average: copied, not computed
      std::copy(px, px + a.numel(), pa);
      continue;
    }
    for (int64_t j = 0; j < a.numel(); ++j)
      pa[j] = static_cast<float>(pa[j] + (static_cast<double>(px[j]) - pa[j]) * w);
  }
  ++count_;
}

SwaValidation average_epoch(WeightAverage& swa, Module& trained, data::Loader* bn_loader, int64_t bn_steps,
                            int64_t epoch, const data::Dataset& val, const data::LoaderOptions& vo, std::FILE* log) {
  swa.add(trained);
  // Not stopped by Ctrl-C: the average about to be saved must have its own statistics.
  if (bn_loader)
    recalibrate_with_progress(swa.model(), *bn_loader, epoch, bn_steps, "  SWA batch-norm statistics", log);
  DatasetPredictions p = predict_dataset(swa.model(), val, vo);
  return {p.loss, p.accuracy()};
}

}  // namespace cxr
