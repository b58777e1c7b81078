#include "explain/pipeline.h"

#include <algorithm>
#include <chrono>

#include "data/loader.h"
#include "explain/xai_fns.h"
#include "image/image.h"

namespace cxr {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A mask at S x S for one image: the file the manifest names, else the folder's match for the image's
// name, else undefined (no mask). A folder match shared equally by several files counts as ambiguous.
Tensor find_mask(const std::string& kind, const std::string& named_file, const std::string& image_path,
                 const std::map<std::string, MaskFolder>& folders, int S, int* ambiguous) {
  if (!named_file.empty()) return load_mask(named_file, S, S);
  const auto f = folders.find(kind);
  if (f == folders.end()) return Tensor();
  bool amb = false;
  const std::string p = f->second.find(image_path, &amb);
  *ambiguous += amb;
  return p.empty() ? Tensor() : load_mask(p, S, S);
}

}  // namespace

Tensor stack(const std::vector<Tensor>& xs) {
  CXR_ASSERT(!xs.empty(), "stack: no tensors");
  Shape shape = xs.front().shape();
  const int64_t n = xs.front().numel();
  shape.insert(shape.begin(), static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(shape);
  for (size_t i = 0; i < xs.size(); ++i) {
    CXR_ASSERT(xs[i].shape() == xs.front().shape(), "stack: tensor ", i, " is ", to_string(xs[i].shape()),
              ", the first ", to_string(xs.front().shape()));
    std::copy(xs[i].data(), xs[i].data() + n, out.data() + static_cast<int64_t>(i) * n);
  }
  return out;
}

void explain_images(Model& model, const std::vector<ImageToExplain>& items, const ExplainPipelineOptions& o,
                    const OnExplainedBatch& on_batch, const OnImageError& on_error) {
  CXR_CHECK(o.batch >= 1, "explain: batch ", o.batch, " must be at least 1");
  const bool per_image_class = !items.empty() && items.front().target >= 0;
  for (const ImageToExplain& it : items)
    CXR_ASSERT((it.target >= 0) == per_image_class, "explain_images: either every image has a class to explain or none");
  const int C = model.config().in_channels, S = model.config().input_size;
  const size_t B = static_cast<size_t>(o.batch);

  for (size_t b0 = 0; b0 < items.size(); b0 += B) {
    const size_t b1 = std::min(items.size(), b0 + B), nb = b1 - b0;
    // Load, preprocess and find the masks of each image, in parallel.
    std::vector<ExplainedImage> loaded(nb);
    std::vector<Tensor> inputs(nb);
    std::vector<std::string> errors(nb);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < nb; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const ImageToExplain& it = items[b0 + i];
      ExplainedImage& e = loaded[i];
      e.index = b0 + i;
      try {
        e.original = image::load_image(it.path).pixels;
        inputs[i] = data::preprocess_image(e.original, S, C, o.normalisation);
        if (o.masks) {
          e.lesion = find_mask("lesion", it.lesion_mask, it.path, o.mask_folders, S, &e.masks_ambiguous);
          e.lung = find_mask("lung", it.lung_mask, it.path, o.mask_folders, S, &e.masks_ambiguous);
        }
      } catch (const std::exception& ex) {
        errors[i] = ex.what();
      }
      e.load_seconds = seconds_since(t0);
    }
    // Drop the failed, stack the rest.
    ExplainedBatch batch;
    batch.begin = b0;
    batch.end = b1;
    std::vector<Tensor> good_inputs;
    std::vector<int> classes;
    for (size_t i = 0; i < nb; ++i) {
      if (!errors[i].empty()) {
        on_error(b0 + i, errors[i]);
        continue;
      }
      good_inputs.push_back(inputs[i]);
      if (per_image_class) classes.push_back(items[b0 + i].target);
      batch.images.push_back(std::move(loaded[i]));
    }
    if (!batch.images.empty()) {
      batch.inputs = stack(good_inputs);
      const auto t0 = std::chrono::steady_clock::now();
      if (per_image_class) {
        std::vector<Explanation> ex = explain_for_classes(model, batch.inputs, o.request, classes, &batch.probabilities);
        for (size_t g = 0; g < ex.size(); ++g) batch.images[g].explanations.push_back(std::move(ex[g]));
      } else {
        auto res = explain_batch(model, batch.inputs, o.request, &batch.probabilities);
        for (size_t g = 0; g < res.size(); ++g) batch.images[g].explanations = std::move(res[g]);
      }
      batch.explain_seconds = seconds_since(t0);
    }
    on_batch(batch);
  }
}

}  // namespace cxr
