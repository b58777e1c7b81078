#include "explain/cam.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/strings.h"
#include "explain/guided.h"
#include "layers/loss.h"

namespace cxr {

// ---- names ------------------------------------------------------------------------------------------

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"gradcam", "gradcam++", "xgradcam", "hirescam", "layercam",
                                                 "scorecam", "ablationcam", "eigencam", "guided", "guided-gradcam"};
  return names;
}

CamMethod parse_method(const std::string& name) {
  const std::string s = lower(name);
  if (s == "gradcam" || s == "grad-cam") return CamMethod::GradCAM;
  if (s == "gradcam++" || s == "gradcampp" || s == "grad-cam++") return CamMethod::GradCAMPlusPlus;
  if (s == "xgradcam") return CamMethod::XGradCAM;
  if (s == "hirescam") return CamMethod::HiResCAM;
  if (s == "layercam") return CamMethod::LayerCAM;
  if (s == "scorecam" || s == "score-cam") return CamMethod::ScoreCAM;
  if (s == "ablationcam" || s == "ablation-cam") return CamMethod::AblationCAM;
  if (s == "eigencam" || s == "eigen-cam") return CamMethod::EigenCAM;
  if (s == "guided" || s == "guided-backprop" || s == "guidedbackprop") return CamMethod::Guided;
  if (s == "guided-gradcam" || s == "guidedgradcam") return CamMethod::GuidedGradCAM;
  throw Error(str("unknown explanation method '", name, "' (known: ", join(method_names()), ")"));
}

const char* method_name(CamMethod m) {
  switch (m) {
    case CamMethod::GradCAM: return "gradcam";
    case CamMethod::GradCAMPlusPlus: return "gradcam++";
    case CamMethod::XGradCAM: return "xgradcam";
    case CamMethod::HiResCAM: return "hirescam";
    case CamMethod::LayerCAM: return "layercam";
    case CamMethod::ScoreCAM: return "scorecam";
    case CamMethod::AblationCAM: return "ablationcam";
    case CamMethod::EigenCAM: return "eigencam";
    case CamMethod::Guided: return "guided";
    case CamMethod::GuidedGradCAM: return "guided-gradcam";
  }
  return "?";
}

bool uses_gradients(CamMethod m) {
  return m != CamMethod::ScoreCAM && m != CamMethod::AblationCAM && m != CamMethod::EigenCAM && m != CamMethod::Guided;
}

// ---- layers and classes -----------------------------------------------------------------------------

LayerInfo default_target_layer(Model& model) { return last_conv_activation(model); }

std::vector<LayerInfo> resolve_target_layers(Model& model, const std::vector<std::string>& names) {
  std::vector<LayerInfo> out;
  for (const std::string& spec : names) {
    std::string cur;
    auto flush = [&] {
      size_t b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
      if (b != std::string::npos) out.push_back(resolve_layer(model, cur.substr(b, e - b + 1)));
      cur.clear();
    };
    for (char c : spec) {
      if (c == '+' || c == ',') flush();
      else cur += c;
    }
    flush();
  }
  if (out.empty()) out.push_back(default_target_layer(model));
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = i + 1; j < out.size(); ++j)
      CXR_CHECK(out[i].position != out[j].position, "layer ", display_name(out[i]), " is named twice");
  return out;
}

std::vector<int> parse_classes(const std::string& spec, const std::vector<std::string>& names, int K) {
  const std::string s = lower(spec);
  if (s.empty() || s == "pred" || s == "predicted") return {};
  std::vector<int> out;
  if (s == "all") {
    for (int k = 0; k < K; ++k) out.push_back(k);
    return out;
  }
  const std::string known = join(names);
  for (const std::string& field : split(spec, ',')) {
    const std::string item = trim(field);
    CXR_CHECK(!item.empty(), "--class '", spec, "': empty class name");
    int found = -1;
    for (size_t k = 0; k < names.size(); ++k)
      if (lower(names[k]) == lower(item)) found = static_cast<int>(k);
    if (found < 0 && item.find_first_not_of("0123456789") == std::string::npos && item.size() < 9) {
      found = std::stoi(item);
      CXR_CHECK(found < K, "--class ", item, ": index out of range for ", K, " classes (", known, ")");
    }
    CXR_CHECK(found >= 0, "--class '", item, "': unknown class (known: ", known, "; or an index, pred, all)");
    if (std::find(out.begin(), out.end(), found) == out.end()) out.push_back(found);
  }
  return out;
}

// ---- the CAM formulas -------------------------------------------------------------------------------

static void check_pair(const Tensor& A, const Tensor& g, const char* what) {
  check_dims(A, 3, what);
  check_same_shape(A, g, what);
}

Tensor cam_weights(CamMethod m, const Tensor& A, const Tensor& g) {
  check_pair(A, g, "cam_weights");
  const int64_t C = A.size(0), HW = A.size(1) * A.size(2);
  Tensor w = Tensor::empty({C});
  for (int64_t k = 0; k < C; ++k) {
    const float* a = A.data() + k * HW;
    const float* d = g.data() + k * HW;
    double acc = 0.0;
    switch (m) {
      case CamMethod::GradCAM:
      case CamMethod::GuidedGradCAM:
        for (int64_t i = 0; i < HW; ++i) acc += d[i];
        acc /= static_cast<double>(HW);
        break;
      case CamMethod::GradCAMPlusPlus: {
        double sa = 0.0;
        for (int64_t i = 0; i < HW; ++i) sa += a[i];
        for (int64_t i = 0; i < HW; ++i) {
          if (d[i] == 0.0f) continue;  // alpha is defined as 0 there
          const double g1 = d[i], g2 = g1 * g1, g3 = g2 * g1;
          const double alpha = g2 / (2.0 * g2 + sa * g3 + 1e-6);
          acc += alpha * std::max(g1, 0.0);
        }
        break;
      }
      case CamMethod::XGradCAM: {
        double sa = 0.0;
        for (int64_t i = 0; i < HW; ++i) {
          sa += a[i];
          acc += static_cast<double>(a[i]) * d[i];
        }
        acc /= sa + 1e-7;
        break;
      }
      default: throw Error(str("cam_weights: ", method_name(m), " has no channel weights"));
    }
    w[k] = static_cast<float>(acc);
  }
  return w;
}

Tensor weighted_sum(const Tensor& A, const Tensor& w) {
  check_dims(A, 3, "weighted_sum");
  CXR_CHECK(w.numel() == A.size(0), "weighted_sum: ", w.numel(), " weights for ", to_string(A.shape()));
  const int64_t C = A.size(0), HW = A.size(1) * A.size(2);
  std::vector<double> acc(static_cast<size_t>(HW), 0.0);
  for (int64_t k = 0; k < C; ++k) {
    const double wk = w[k];
    if (wk == 0.0) continue;
    const float* a = A.data() + k * HW;
    for (int64_t i = 0; i < HW; ++i) acc[static_cast<size_t>(i)] += wk * a[i];
  }
  Tensor out = Tensor::empty({A.size(1), A.size(2)});
  for (int64_t i = 0; i < HW; ++i) out[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
  return out;
}

Tensor gradient_cam(CamMethod m, const Tensor& A, const Tensor& g) {
  check_pair(A, g, "gradient_cam");
  if (m != CamMethod::HiResCAM && m != CamMethod::LayerCAM) return weighted_sum(A, cam_weights(m, A, g));
  const int64_t C = A.size(0), HW = A.size(1) * A.size(2);
  std::vector<double> acc(static_cast<size_t>(HW), 0.0);
  for (int64_t k = 0; k < C; ++k) {
    const float* a = A.data() + k * HW;
    const float* d = g.data() + k * HW;
    for (int64_t i = 0; i < HW; ++i) {
      const double gi = m == CamMethod::LayerCAM ? std::max(d[i], 0.0f) : d[i];
      acc[static_cast<size_t>(i)] += gi * a[i];
    }
  }
  Tensor out = Tensor::empty({A.size(1), A.size(2)});
  for (int64_t i = 0; i < HW; ++i) out[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
  return out;
}

FuseMode parse_fuse(const std::string& name) {
  const std::string s = lower(name);
  if (s == "max") return FuseMode::Max;
  if (s == "sum") return FuseMode::Sum;
  throw Error(str("unknown fusion '", name, "' (known: max, sum)"));
}

const char* fuse_name(FuseMode f) { return f == FuseMode::Max ? "max" : "sum"; }

Tensor fuse_maps(const std::vector<Tensor>& raws, int64_t height, int64_t width, FuseMode how) {
  CXR_CHECK(!raws.empty(), "fuse_maps: no maps");
  Tensor out = Tensor::zeros({height, width});
  for (const Tensor& r : raws) {
    Tensor up = upsample_map(normalize_map(r), height, width, Upsample::Bilinear);
    Tensor m = minmax_scale(up);  // bilinear keeps [0, 1], but rescale so each layer spans it exactly
    for (int64_t i = 0; i < out.numel(); ++i) out[i] = how == FuseMode::Max ? std::max(out[i], m[i]) : out[i] + m[i];
  }
  return out;
}

Tensor map_at_input(const Explanation& e, int64_t height, int64_t width, Upsample mode) {
  CXR_CHECK(e.map.defined(), "map_at_input: the explanation has no map");
  return upsample_map(e.map, height, width, mode);
}

// ---- explain_batch ----------------------------------------------------------------------------------

static Tensor image_of(const Tensor& t, int64_t n) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  return t.slice(n, n + 1).reshape(s);
}

// The per-image maps of a capture (explain_batch and explain_capture); probabilities as explain_batch's.
static std::vector<std::vector<Explanation>> assemble(Model& model, const Tensor& batch, const Capture& cap,
                                                      const ExplainRequest& req, Tensor* probabilities);

std::vector<std::vector<Explanation>> explain_batch(Model& model, const Tensor& batch, const ExplainRequest& req,
                                                    Tensor* probabilities) {
  const CamMethod m = req.method;
  CXR_CHECK(batch.defined() && batch.dim() == 4, "explain: input must be a batch [N, C, S, S], got ",
            batch.defined() ? to_string(batch.shape()) : "undefined");
  CXR_CHECK(!req.counterfactual || uses_gradients(m), "explain: --counterfactual applies to the gradient methods "
            "(gradcam, gradcam++, xgradcam, hirescam, layercam, guided-gradcam), not to ", method_name(m));
  CXR_CHECK(req.scorecam_batch >= 1, "explain: scorecam batch ", req.scorecam_batch, " must be at least 1");
  CXR_CHECK(req.ablation_batch >= 1, "explain: ablation batch ", req.ablation_batch, " must be at least 1");
  std::vector<LayerInfo> layers;
  if (m != CamMethod::Guided) layers = resolve_target_layers(model, req.layers);
  else CXR_CHECK(req.layers.empty(), "explain: guided backprop explains the input; it takes no --layer");

  const bool need_guided = m == CamMethod::Guided || m == CamMethod::GuidedGradCAM || req.with_guided;
  CaptureOptions opt;
  opt.gradients = uses_gradients(m);
  opt.input_gradients = need_guided;
  opt.guided = true;
  opt.counterfactual = req.counterfactual;
  Capture cap = capture(model, batch, layers, req.classes, opt);

  return assemble(model, batch, cap, req, probabilities);
}

std::vector<std::vector<Explanation>> explain_capture(Model& model, const Tensor& batch, const Capture& cap,
                                                      const ExplainRequest& req) {
  return assemble(model, batch, cap, req, nullptr);
}

static std::vector<std::vector<Explanation>> assemble(Model& model, const Tensor& batch, const Capture& cap,
                                                      const ExplainRequest& req, Tensor* probabilities) {
  const CamMethod m = req.method;
  const std::vector<LayerInfo>& layers = cap.layers;
  const bool need_guided = m == CamMethod::Guided || m == CamMethod::GuidedGradCAM || req.with_guided;
  CXR_CHECK(!need_guided || cap.input_gradients.size() == cap.targets.size(), "explain: ", method_name(m),
            " needs the capture's input gradients");
  CXR_CHECK(!uses_gradients(m) || cap.gradients.size() == cap.targets.size(), "explain: ", method_name(m),
            " needs the capture's layer gradients");
  Tensor probs = softmax(cap.logits);
  if (probabilities) *probabilities = probs;
  const int64_t N = batch.size(0), K = cap.logits.size(1), S_h = batch.size(2), S_w = batch.size(3);
  const size_t slots = cap.targets.size(), L = layers.size();
  std::string layer_label;
  for (const LayerInfo& l : layers) layer_label += (layer_label.empty() ? "" : " + ") + display_name(l);
  const CamMethod base = m == CamMethod::GuidedGradCAM ? CamMethod::GradCAM : m;

  std::vector<std::vector<Explanation>> out(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    // raws[slot][layer]
    std::vector<std::vector<Tensor>> raws(slots, std::vector<Tensor>(L));
    std::vector<char> zero_score(slots, 0);  // Ablation-CAM: y_c = 0, its weights undefined
    for (size_t l = 0; l < L; ++l) {
      const Tensor A = image_of(cap.activations[l], n);
      if (base == CamMethod::EigenCAM) {
        Tensor e = eigen_cam(A);  // class-independent
        for (size_t s = 0; s < slots; ++s) raws[s][l] = e;
      } else if (base == CamMethod::ScoreCAM) {
        std::vector<int> cls;
        for (size_t s = 0; s < slots; ++s) cls.push_back(cap.targets[s][static_cast<size_t>(n)]);
        std::vector<Tensor> r = score_cam(model, image_of(batch, n), A, cls, req.scorecam_batch);
        for (size_t s = 0; s < slots; ++s) raws[s][l] = r[s];
      } else if (base == CamMethod::AblationCAM) {
        std::vector<int> cls;
        for (size_t s = 0; s < slots; ++s) cls.push_back(cap.targets[s][static_cast<size_t>(n)]);
        AblationCamResult r = ablation_cam(model, layers[l], A, cls, req.ablation_batch);
        for (size_t s = 0; s < slots; ++s) {
          raws[s][l] = r.raws[s];
          if (r.scores[s] == 0.0f) zero_score[s] = true;
        }
      } else {
        for (size_t s = 0; s < slots; ++s) raws[s][l] = gradient_cam(base, A, image_of(cap.gradients[s][l], n));
      }
    }
    for (size_t s = 0; s < slots; ++s) {
      Explanation e;
      e.class_index = cap.targets[s][static_cast<size_t>(n)];
      e.class_name = static_cast<size_t>(e.class_index) < req.class_names.size()
                         ? req.class_names[static_cast<size_t>(e.class_index)]
                         : "class" + std::to_string(e.class_index);
      e.probability = probs[n * K + e.class_index];
      e.score = cap.logits[n * K + e.class_index];
      e.method = m;
      e.counterfactual = req.counterfactual;
      e.layer = m == CamMethod::Guided ? "input" : layer_label;
      Degeneracy d;
      if (m == CamMethod::Guided) {
        const Tensor g = image_of(cap.input_gradients[s], n);
        const int64_t C = g.size(0), HW = S_h * S_w;
        e.raw = Tensor::zeros({S_h, S_w});
        for (int64_t c = 0; c < C; ++c)
          for (int64_t i = 0; i < HW; ++i) e.raw[i] += g[c * HW + i];
        const Tensor saliency = guided_saliency(g);
        d = check_map(saliency, /*relu=*/false);
        e.map = normalize_map(saliency, /*relu=*/false);
        e.guided = g;
      } else {
        e.raw = L == 1 ? raws[s][0] : fuse_maps(raws[s], S_h, S_w, req.fuse);
        d = check_map(e.raw);
        if (zero_score[s]) d = {true, "class score is 0: Ablation-CAM's weights (y_c - y_c^k) / y_c are undefined"};
        e.map = normalize_map(e.raw);
        if (need_guided) e.guided = guided_gradcam(image_of(cap.input_gradients[s], n), e.map);
      }
      e.degenerate = d.degenerate;
      e.degenerate_reason = d.reason;
      out[static_cast<size_t>(n)].push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace cxr
