// The two callables every explanation metric is written against, and their adapters for cxr models.
//
// Metrics never reach into a model or an explanation method directly: they see only
//
//   ScoreFn  images [N, C, S, S] -> softmax probabilities [N, K]
//   MapFn    images [N, C, S, S] -> saliency maps [N, S, S] at input resolution (larger = more important),
//            with the explained class bound by whoever built the MapFn
//
// so the same deletion / insertion / localisation / sanity code measures any method on any model, and tests
// can hand in toy functions whose right answers are known by construction.
#pragma once
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "explain/cam.h"
#include "models/model.h"

namespace cxr {

using ScoreFn = std::function<Tensor(const Tensor& images)>;
using MapFn = std::function<Tensor(const Tensor& images)>;

// softmax(model(images)) in eval mode, without recording a graph, in chunks of `batch` images (the
// perturbation metrics send hundreds of images at once). The model must outlive the function.
ScoreFn model_score_fn(Model& model, int batch = 32);

// One explanation per image for a chosen class per image: classes[i] for image i (empty: each image's
// predicted class). explain_batch takes one class list for the whole batch, so the distinct classes are
// requested together (one forward, one head-only backward per class) and each image keeps its own.
// `probabilities`, when given, receives [N, K]. The request's own `classes` field is ignored.
std::vector<Explanation> explain_for_classes(Model& model, const Tensor& images, const ExplainRequest& request,
                                             const std::vector<int>& classes, Tensor* probabilities = nullptr);

// Explanation map -> [S, S] at the model input (bilinear), in [0, 1]; zeros for a degenerate map. For
// guided Grad-CAM: the product image's max |value| over channels (what the method shows), not its CAM.
Tensor input_map(const Explanation& e, int64_t height, int64_t width);

// A MapFn for an explain/cam.h method: maps of classes[i] for image i (empty: predicted class of each
// image as the LIVE model sees it), upsampled to the input. It runs the model as it is at call time, which
// is what the sanity check (explain/sanity.h) needs. A non-empty `classes` must have one entry per image of
// every batch passed in. The model must outlive the function.
MapFn cam_map_fn(Model& model, const ExplainRequest& request, std::vector<int> classes = {});

}  // namespace cxr
