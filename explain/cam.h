// Class activation maps: where the network looked, for any image, layer and class.
//
// The core is one forward pass that records what the explanation needs at the target layer(s) A (the
// activations) and one short backward per class from the head down to A (the gradients dy_c/dA, y_c the
// PRE-softmax score of class c). Then each method turns A and dy_c/dA into a map over the layer's h x w:
//
//   gradcam     Selvaraju et al. 2017 (arXiv 1610.02391):  alpha_k = mean_ij dy_c/dA_k(i,j),
//               L = ReLU(sum_k alpha_k A_k)
//   gradcam++   Chattopadhyay et al. 2018, in pytorch-grad-cam's closed form (exponential output):
//               a = g^2 / (2 g^2 + sum_ij(A_k) g^3 + 1e-6)  (0 where g = 0),  alpha_k = sum_ij a ReLU(g)
//   xgradcam    Fu et al. 2020:  alpha_k = sum_ij g A_k / (sum_ij A_k + 1e-7)
//   hirescam    Draelos & Carin 2020:  L = sum_k g_k * A_k elementwise (no averaging)
//   layercam    Jiang et al. 2021:  L = sum_k ReLU(g_k) * A_k
//   scorecam    Wang et al. 2020: each channel A_k, upsampled to the input and min-max scaled to [0, 1], masks
//               the input; alpha_k = softmax probability of class c for the masked input (the plain
//               probability, as pytorch-grad-cam; no baseline subtracted). No gradients; C extra forwards.
//   ablationcam Ramaswamy & Desai 2020 (WACV): alpha_k = (y_c - y_c^(k)) / y_c, y_c^(k) the score with channel
//               k of A zeroed, computed by the head above the layer on [batch, C, h, w] stacks of ablated copies
//               (all-zero channels skipped: their weight is 0); L = ReLU(sum_k alpha_k A_k). No gradients;
//               about C / batch head forwards per image, shared by all requested classes.
//   eigencam    Muhammad & Yeasin 2020: the first principal component of A (positions x channels, centred
//               per channel), projected back onto the positions. Class-independent. The sign is fixed so the
//               map correlates positively with the mean activation (an SVD's sign is arbitrary).
//   guided      guided backpropagation (Springenberg et al. 2015): dy_c/dinput with ReLUs that also drop
//               negative gradients (layers/activation.h set_guided_relu). raw = the gradient summed over
//               input channels, map = max over channels of |gradient|, min-max scaled, at input resolution.
//   guided-gradcam  Grad-CAM's map, plus guided backprop x the Grad-CAM map upsampled (Explanation::guided).
// counterfactual (Selvaraju et al. section 3.3): the gradient methods with -dy_c/dA: what speaks AGAINST c.
//
// Cost: the forward runs with every parameter frozen (no weight gradient is ever computed: requires_grad
// is switched off during the pass and restored after) and the target activation becomes a graph leaf, so
// nothing below it is recorded: the forward costs what inference costs, and each backward only crosses the
// head (for relu5_3: pool5 and the classifier). Several classes (e.g. all) share the one forward: one
// backward per class with the graph retained for all but the last. Guided backprop needs the whole graph
// and one backward-data pass to the input (no weight gradients either).
//
// Several target layers ("conv3_3+conv4_3+conv5_3", any method but guided): each layer's map is ReLU'd and
// min-max scaled at its own resolution (normalize_map), upsampled to the input (bilinear), min-max scaled
// to [0, 1] again (bilinear interpolation can leave its range), then combined by elementwise max (default)
// or sum; the raw map is then that combination at input resolution.
//
// Inputs are batches preprocessed exactly as for inference ([N, C, S, S], data/loader.h preprocess_image);
// every image's results equal what it would get alone (batch-norm runs in eval mode).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "explain/maps.h"
#include "models/layer_names.h"
#include "models/model.h"

namespace cxr {

enum class CamMethod {
  GradCAM, GradCAMPlusPlus, XGradCAM, HiResCAM, LayerCAM, ScoreCAM, AblationCAM, EigenCAM, Guided, GuidedGradCAM
};

// "gradcam", "gradcam++" (also "gradcampp"), "xgradcam", "hirescam", "layercam", "scorecam", "ablationcam"
// (also "ablation-cam"), "eigencam", "guided" (also "guided-backprop"), "guided-gradcam". Throws listing them.
CamMethod parse_method(const std::string& name);
const char* method_name(CamMethod m);
const std::vector<std::string>& method_names();
// The methods computed from dy_c/dA (all but scorecam, ablationcam, eigencam and guided): those
// --counterfactual applies to.
bool uses_gradients(CamMethod m);

// How the maps of several target layers combine (see above).
enum class FuseMode { Max, Sum };
FuseMode parse_fuse(const std::string& name);  // "max" | "sum" (any case); throws naming them
const char* fuse_name(FuseMode f);

struct ExplainRequest {
  CamMethod method = CamMethod::GradCAM;
  std::vector<std::string> layers;  // empty: the default target (relu5_3 in VGG-16); several are fused (above)
  std::vector<int> classes;         // empty: each image's predicted class; else these, for every image
  bool counterfactual = false;      // gradient methods only
  bool with_guided = false;         // also fill Explanation::guided (guided backprop x map), e.g. for panels
  FuseMode fuse = FuseMode::Max;    // several layers: elementwise max or sum
  int scorecam_batch = 32;          // masked images per forward in Score-CAM
  int ablation_batch = 32;          // ablated activations per head forward in Ablation-CAM
  std::vector<std::string> class_names;  // fills Explanation::class_name; empty: "class<i>"
};

struct Explanation {
  int class_index = -1;
  std::string class_name;
  float probability = 0.0f;  // softmax of the logits, for this class
  float score = 0.0f;        // the logit y_c
  CamMethod method = CamMethod::GradCAM;
  bool counterfactual = false;
  std::string layer;         // display name(s) of the target layer(s), "features.29 (relu5_3)", joined by " + "
  Tensor raw;                // [h, w] signed, at the layer's resolution (fused layers and guided: [S, S])
  Tensor map;                // [h, w] in [0, 1] (normalize_map of raw); zeros when degenerate
  Tensor guided;             // [C, S, S]: guided: the guided gradient; guided-gradcam or with_guided: guided
                             // gradient x map upsampled to S x S (bilinear); otherwise undefined
  bool degenerate = false;
  std::string degenerate_reason;
};

// N preprocessed images [N, C, S, S] -> per image, one Explanation per requested class (in request order;
// one for the predicted class when classes is empty). `probabilities`, when given, receives [N, K].
// The model is put in eval mode for the call (and back in train mode after, if it was).
std::vector<std::vector<Explanation>> explain_batch(Model& model, const Tensor& batch, const ExplainRequest& request,
                                                    Tensor* probabilities = nullptr);

// An explanation's map upsampled to the model input, [S, S] (or any size): the input-resolution view.
Tensor map_at_input(const Explanation& e, int64_t height, int64_t width, Upsample mode = Upsample::Bilinear);

// ---- building blocks (public for tests, benchmarks, the report and metrics code) ------------------------

// The ReLU after the last convolution (relu5_3 for VGG-16, computed from the layer types for any arch).
LayerInfo default_target_layer(Model& model);
// Names -> layers; each name may itself join several with '+' or ','. Empty: {default_target_layer}.
// Throws for unknown names (listing the valid ones) and for a layer named twice.
std::vector<LayerInfo> resolve_target_layers(Model& model, const std::vector<std::string>& names);
// "pred" (or "") -> {} (the predicted class); "all" -> 0..K-1; else a comma list of class names
// (case-insensitive) or indices. Throws for an unknown name or an index out of range.
std::vector<int> parse_classes(const std::string& spec, const std::vector<std::string>& class_names, int num_classes);

struct CaptureOptions {
  bool gradients = true;         // dy_c/dA at the target layers
  bool input_gradients = false;  // dy_c/dinput (through the whole network)
  bool guided = true;            // input gradients through guided ReLUs (guided backprop)
  bool counterfactual = false;   // layer gradients of -y_c (input gradients are never negated)
  // Resume a forward that already ran (`cxr serve` keeps one no-grad forward per image): when start_activation
  // is defined it is the output of layers()[start_position] for this batch, and only the layers above it run
  // (Model::forward_after). Every target layer must lie above it; no input gradients then.
  size_t start_position = 0;
  Tensor start_activation;
  // Called once between the forward and the first backward, with the graph as recorded: the logits, and
  // (input gradients with target layers) the lowest layer's original output with its graph to the input.
  // For drawing the graph (autograd/dot.h; tools/figures.cpp); not called without a backward.
  std::function<void(const Variable& logits, const Variable& below_cut)> on_graph;
};

struct Capture {
  Tensor logits;                               // [N, K]
  std::vector<std::vector<int>> targets;       // [slot][image]: the class each backward explained
  std::vector<LayerInfo> layers;
  std::vector<Tensor> activations;             // [layer]: [N, C, h, w]
  std::vector<std::vector<Tensor>> gradients;  // [slot][layer]: [N, C, h, w] (when options.gradients)
  std::vector<Tensor> input_gradients;         // [slot]: [N, C, S, S] (when options.input_gradients)
};

// The one forward and the per-class backwards described above. classes: empty = one slot with each image's
// predicted class; else one slot per class. Layers must give [N, C, h, w] outputs (features or avgpool).
// Without gradients of any kind it is a plain no-grad forward that records activations.
Capture capture(Model& model, const Tensor& batch, const std::vector<LayerInfo>& layers,
                const std::vector<int>& classes, const CaptureOptions& options = {});

// The explanations of a capture (what explain_batch does after its capture): per image of `batch` (the
// capture's input; Score-CAM re-runs the model on it), one Explanation per slot of cap.targets. The request
// must be the one the capture was made for (method, counterfactual, fuse, class names); its classes are
// not read (the capture's targets are). Guided methods need the capture's input gradients.
std::vector<std::vector<Explanation>> explain_capture(Model& model, const Tensor& batch, const Capture& cap,
                                                      const ExplainRequest& request);

// Per image: activation A and gradient g, both [C, h, w].
Tensor cam_weights(CamMethod m, const Tensor& A, const Tensor& g);      // [C]: gradcam, gradcam++, xgradcam
Tensor weighted_sum(const Tensor& A, const Tensor& weights);           // sum_k w_k A_k -> [h, w]
Tensor gradient_cam(CamMethod m, const Tensor& A, const Tensor& g);    // the raw map [h, w]
Tensor eigen_cam(const Tensor& A);                                     // [h, w]
// Score-CAM for one image [C_in, S, S] with its activation A [C, h, w]: one raw map per class, from the same
// masked forwards (masked images in chunks of `batch`; channels with a constant upsampled map give an
// all-zero mask and share one forward).
std::vector<Tensor> score_cam(Model& model, const Tensor& image, const Tensor& A, const std::vector<int>& classes,
                              int batch = 32);
// Ablation-CAM for one image's activation A [C, h, w] at `layer` (see above): per class, the weights [C] and
// the raw map sum_k w_k A_k [h, w]. scores[ci] is y_c as the head computes it from A; when it is 0 the
// weights are undefined and left 0. head_forwards: how many batched head forwards it took.
struct AblationCamResult {
  std::vector<Tensor> weights;
  std::vector<Tensor> raws;
  std::vector<float> scores;
  int head_forwards = 0;
};
AblationCamResult ablation_cam(Model& model, const LayerInfo& layer, const Tensor& A, const std::vector<int>& classes,
                               int batch = 32);
// Several raw maps (any resolutions) -> one [height, width] map: each ReLU'd and min-max scaled
// (normalize_map), upsampled (bilinear), min-max scaled again (so each layer spans [0, 1] exactly), then
// elementwise max ("max") or sum ("sum"). Degenerate layers contribute zeros.
Tensor fuse_maps(const std::vector<Tensor>& raws, int64_t height, int64_t width, FuseMode how);

}  // namespace cxr
