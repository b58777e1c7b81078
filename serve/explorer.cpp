// Explorer: the cache of images and captures behind `cxr serve` (serve/explorer.h says what each call costs).
#include "serve/explorer.h"

#include <algorithm>

#include "core/argmax.h"
#include "core/threading.h"
#include "data/loader.h"
#include "explain/localization.h"
#include "explain/sha256.h"
#include "explain/xai_report.h"
#include "layers/loss.h"

namespace cxr::serve {

namespace {

constexpr size_t kCapturesPerImage = 4;  // layer sets kept per image (each: activations + K gradients)

bool is_spatial(const LayerInfo& l) { return l.section == "features" || l.section == "avgpool"; }

std::string layers_key(const std::vector<LayerInfo>& layers, bool counterfactual) {
  std::vector<std::string> parts = {counterfactual ? "cf" : "plain"};
  for (const LayerInfo& l : layers) parts.push_back(std::to_string(l.position));
  return join(parts, ":");
}

}  // namespace

struct Explorer::Entry {
  ImageSummary summary;
  Tensor original;                  // [C, H, W] as decoded
  Tensor input;                     // [1, C, S, S] preprocessed
  Tensor logits;                    // [1, K]
  std::vector<Tensor> checkpoints;  // [checkpoint]: [1, C, h, w], the pool outputs of the first forward
  Tensor lesion, lung;              // [S, S] binary, or undefined
  std::list<std::pair<std::string, Capture>> captures;  // most recent first, at most kCapturesPerImage
  std::map<std::string, nlohmann::json> metrics;
};

Explorer::Explorer(io::LoadedModel model, ExplorerOptions options) : lm_(std::move(model)), opt_(std::move(options)) {
  CXR_CHECK(lm_.model, "serve: no model");
  CXR_CHECK(opt_.cache_images >= 1, "serve: the image cache must hold at least one image");
  for (const LayerInfo& l : layer_table(*lm_.model)) {
    if (!is_spatial(l)) continue;
    layers_.push_back(l);
    if (l.section == "features" && l.alias.rfind("pool", 0) == 0) checkpoints_.push_back(l);
  }
  default_layer_ = default_target_layer(*lm_.model);
}

Explorer::~Explorer() = default;

std::shared_ptr<Explorer::Entry> Explorer::entry(const std::string& id) {
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if ((*it)->summary.id == id) {
      lru_.splice(lru_.begin(), lru_, it);
      return lru_.front();
    }
  return nullptr;
}

ImageSummary Explorer::add_image(const std::vector<uint8_t>& bytes, const std::string& name, const MaskFiles& masks) {
  const std::string id = sha256_hex(bytes.data(), bytes.size()).substr(0, 16);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto e = entry(id)) {
      ++counters_.cache_hits;
      ImageSummary s = e->summary;
      s.cached = true;
      return s;
    }
    ++counters_.cache_misses;
  }
  // Decoding, preprocessing and the forward run under the model's lock, so that an upload never decodes
  // beside a pass: two parallel regions at once would use twice the thread budget (and uploads together
  // cannot decode to many times the decode limits).
  adopt_num_threads();
  auto e = std::make_shared<Entry>();
  const ModelConfig& cfg = lm_.model->config();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto hit = entry(id)) return hit->summary;  // another request added it meanwhile
  const image::Image img = image::decode_image(bytes, name, opt_.limits);
  e->original = img.pixels;
  const Tensor x = data::preprocess_image(img.pixels, cfg.input_size, cfg.in_channels, lm_.norm);  // [C, S, S]
  e->input = x.reshape({1, x.size(0), x.size(1), x.size(2)});
  const int64_t S = cfg.input_size;
  if (!masks.lesion.empty()) e->lesion = load_mask(masks.lesion, S, S);
  if (!masks.lung.empty()) e->lung = load_mask(masks.lung, S, S);
  CaptureOptions opt;
  opt.gradients = false;  // a plain no-grad forward that records the checkpoints
  Capture cap = capture(*lm_.model, e->input, checkpoints_, {}, opt);
  ++counters_.full_passes;
  e->logits = cap.logits;
  e->checkpoints = std::move(cap.activations);
  const Tensor p = softmax(cap.logits);
  ImageSummary& s = e->summary;
  s.id = id;
  s.channels = img.pixels.size(0);
  s.height = img.pixels.size(1);
  s.width = img.pixels.size(2);
  s.probabilities.assign(p.data(), p.data() + p.numel());
  s.predicted = argmax(p.data(), p.numel());
  s.lesion_mask = e->lesion.defined();
  s.lung_mask = e->lung.defined();
  lru_.push_front(e);
  while (lru_.size() > opt_.cache_images) {
    lru_.pop_back();
    ++counters_.evictions;
  }
  return s;
}

std::optional<ImageSummary> Explorer::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto e = entry(id);
  if (!e) return std::nullopt;
  ImageSummary s = e->summary;
  s.cached = true;
  return s;
}

Tensor Explorer::original(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto e = entry(id);
  return e ? e->original : Tensor();
}

// All K classes' gradients at `layers` (one slot per class), from the image's cached captures or made now by
// resuming its forward at the highest checkpoint below the layers.
Capture Explorer::layer_capture(Entry& e, const std::vector<LayerInfo>& layers, bool counterfactual) {
  const std::string key = layers_key(layers, counterfactual);
  for (auto it = e.captures.begin(); it != e.captures.end(); ++it)
    if (it->first == key) {
      e.captures.splice(e.captures.begin(), e.captures, it);
      return e.captures.front().second;
    }
  size_t lowest = layers.front().position;
  for (const LayerInfo& l : layers) lowest = std::min(lowest, l.position);
  CaptureOptions opt;
  opt.counterfactual = counterfactual;
  for (size_t i = checkpoints_.size(); i-- > 0;)
    if (checkpoints_[i].position < lowest) {
      opt.start_position = checkpoints_[i].position;
      opt.start_activation = e.checkpoints[i];
      break;
    }
  ++(opt.start_activation.defined() ? counters_.resumed_passes : counters_.full_passes);
  std::vector<int> all(static_cast<size_t>(e.logits.size(1)));
  for (size_t c = 0; c < all.size(); ++c) all[c] = static_cast<int>(c);
  Capture cap = capture(*lm_.model, e.input, layers, all, opt);
  e.captures.emplace_front(key, cap);
  if (e.captures.size() > kCapturesPerImage) e.captures.pop_back();
  return cap;
}

Explanation Explorer::explain_locked(Entry& e, const ExplainQuery& q) {
  const int K = static_cast<int>(e.logits.size(1));
  const int c = q.class_index < 0 ? e.summary.predicted : q.class_index;
  CXR_CHECK(c < K, "class index ", c, " out of range for a model with ", K, " classes");
  CXR_CHECK(!q.counterfactual || uses_gradients(q.method), "counterfactual applies to the gradient methods, not to ",
            method_name(q.method));
  ExplainRequest req;
  req.method = q.method;
  req.classes = {c};
  req.counterfactual = q.counterfactual;
  req.fuse = q.fuse;
  req.scorecam_batch = opt_.scorecam_batch;
  req.class_names = lm_.meta.classes;
  if (q.method == CamMethod::Guided || q.method == CamMethod::GuidedGradCAM) {
    // A graph down to the input: the one kind of explanation that repeats the whole forward.
    if (q.method == CamMethod::GuidedGradCAM) req.layers = q.layers;
    ++counters_.full_passes;
    return explain_batch(*lm_.model, e.input, req)[0][0];
  }
  const Capture cap = layer_capture(e, resolve_target_layers(*lm_.model, q.layers), q.counterfactual);
  Capture one;  // the requested class's slot of the all-class capture
  one.logits = cap.logits;
  one.layers = cap.layers;
  one.activations = cap.activations;
  one.targets = {cap.targets[static_cast<size_t>(c)]};
  one.gradients = {cap.gradients[static_cast<size_t>(c)]};
  ++counters_.fusions;
  return explain_capture(*lm_.model, e.input, one, req)[0][0];
}

Explanation Explorer::explain(const ExplainQuery& q) {
  adopt_num_threads();
  std::lock_guard<std::mutex> lock(mu_);
  auto e = entry(q.image);
  CXR_CHECK(e, "no image with id '", q.image, "' (never added, or dropped from the cache: add it again)");
  return explain_locked(*e, q);
}

nlohmann::json Explorer::metrics(const ExplainQuery& q) {
  adopt_num_threads();
  std::lock_guard<std::mutex> lock(mu_);
  auto e = entry(q.image);
  CXR_CHECK(e, "no image with id '", q.image, "' (never added, or dropped from the cache: add it again)");
  const std::string key = cxr::str(method_name(q.method), "|", join(q.layers, "+"), "|", q.class_index, "|",
                                   q.counterfactual, "|", fuse_name(q.fuse));
  if (auto it = e->metrics.find(key); it != e->metrics.end()) return it->second;
  const Explanation ex = explain_locked(*e, q);
  XaiOptions xopt;
  xopt.request.method = q.method;
  xopt.request.layers = q.layers;
  xopt.request.fuse = q.fuse;
  xopt.normalisation = lm_.norm;
  xopt.faithfulness = opt_.faithfulness;
  std::vector<XaiImageRow> rows = evaluate_batch(*lm_.model, e->input, {ex}, {e->lesion}, {e->lung}, xopt);
  ++counters_.metric_runs;
  rows[0].index = 0;
  rows[0].predicted = e->summary.predicted;
  const XaiReport rep = make_report(std::move(rows), lm_.meta.classes, xopt);
  nlohmann::json j = to_json(rep)["rows"][0];
  j.erase("index");
  j.erase("file");
  j["shortcut_band"] = default_shortcut_band(static_cast<int>(e->input.size(2)));
  j["faithfulness_steps"] = opt_.faithfulness.steps;
  e->metrics[key] = j;
  return j;
}

Counters Explorer::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace cxr::serve
