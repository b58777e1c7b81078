#include "train/mixup.h"

#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"

namespace cxr {

MixedBatch mixup_batch(const Tensor& images, const std::vector<int>& labels, float alpha, Rng& rng) {
  CXR_CHECK(std::isfinite(alpha) && alpha > 0, "mixup: alpha ", alpha, " must be > 0");
  CXR_CHECK(images.dim() >= 1 && images.size(0) == static_cast<int64_t>(labels.size()), "mixup: ",
            labels.size(), " labels for images ", to_string(images.shape()));
  const int64_t n = images.size(0);
  MixedBatch m;
  m.lambda = static_cast<float>(rng.beta(alpha, alpha));
  m.perm.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) m.perm[static_cast<size_t>(i)] = static_cast<int>(i);
  rng.shuffle(m.perm);
  m.labels_a = labels;
  m.labels_b.resize(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) m.labels_b[i] = labels[static_cast<size_t>(m.perm[i])];

  m.images = Tensor::empty(images.shape());
  const int64_t per = n ? images.numel() / n : 0;
  const float la = m.lambda, lb = 1.0f - m.lambda;
  const float* x = images.data();
  float* y = m.images.data();
  for (int64_t i = 0; i < n; ++i) {
    const float* a = x + i * per;
    const float* b = x + static_cast<int64_t>(m.perm[static_cast<size_t>(i)]) * per;
    float* o = y + i * per;
    for (int64_t j = 0; j < per; ++j) o[j] = la * a[j] + lb * b[j];
  }
  return m;
}

Variable mixup_cross_entropy(const Variable& logits, const MixedBatch& mix, const CrossEntropyOptions& opt) {
  Variable a = cross_entropy(logits, mix.labels_a, opt);
  if (mix.lambda >= 1.0f) return a;
  Variable b = cross_entropy(logits, mix.labels_b, opt);
  if (mix.lambda <= 0.0f) return b;
  return add(scale(a, mix.lambda), scale(b, 1.0f - mix.lambda));
}

}  // namespace cxr
