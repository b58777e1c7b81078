#include "models/model.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "models/seedcnn.h"
#include "models/vgg.h"

namespace cxr {

// ---- configuration -----------------------------------------------------------------------------------

const std::vector<std::string>& known_archs() {
  static const std::vector<std::string> archs = {"vgg11", "vgg13", "vgg16", "vgg19", "seedcnn"};
  return archs;
}

static std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

void validate(const ModelConfig& c) {
  const auto& archs = known_archs();
  CXR_CHECK(std::find(archs.begin(), archs.end(), c.arch) != archs.end(), "model config: unknown arch '", c.arch,
            "' (known: ", join_names(archs), "; batch norm is the separate batch_norm flag)");
  CXR_CHECK(std::isfinite(c.width) && c.width > 0.0f && c.width <= 8.0f, "model config: width ", c.width,
            " must be in (0, 8]");
  CXR_CHECK(c.in_channels == 1 || c.in_channels == 3, "model config: in_channels ", c.in_channels,
            " must be 1 (grey) or 3 (RGB)");
  CXR_CHECK(c.input_size >= 32 && c.input_size % 32 == 0, "model config: input_size ", c.input_size,
            " must be a positive multiple of 32 (the network halves it 5 times), e.g. 128, 224, 256");
  CXR_CHECK(c.head == "torchvision" || c.head == "gap" || c.head == "gap256", "model config: unknown head '",
            c.head, "' (known: torchvision, gap, gap256)");
  CXR_CHECK(c.num_classes >= 1, "model config: num_classes ", c.num_classes, " must be at least 1");
  CXR_CHECK(c.dropout >= 0.0f && c.dropout < 1.0f, "model config: dropout ", c.dropout, " must be in [0, 1)");
}

int scaled_channels(int channels, float width) {
  if (width == 1.0f) return channels;
  return std::max(1, static_cast<int>(std::lround(static_cast<double>(channels) * width)));
}

std::string model_name(const ModelConfig& c) { return c.arch + (c.batch_norm ? "_bn" : ""); }

ModelConfig config_from_name(const std::string& name, ModelConfig base) {
  std::string arch = name;
  bool bn = false;
  if (arch.size() > 3 && arch.compare(arch.size() - 3, 3, "_bn") == 0) {
    arch = arch.substr(0, arch.size() - 3);
    bn = true;
  }
  const auto& archs = known_archs();
  CXR_CHECK(std::find(archs.begin(), archs.end(), arch) != archs.end(), "unknown model '", name,
            "' (known: ", join_names(archs), ", each also with _bn, e.g. vgg16_bn)");
  base.arch = arch;
  base.batch_norm = bn;
  return base;
}

void to_json(nlohmann::json& j, const ModelConfig& c) {
  j = nlohmann::json{{"arch", c.arch},
                     {"batch_norm", c.batch_norm},
                     {"width", c.width},
                     {"in_channels", c.in_channels},
                     {"input_size", c.input_size},
                     {"head", c.head},
                     {"num_classes", c.num_classes},
                     {"dropout", c.dropout},
                     {"seed", c.seed}};
}

template <typename T>
static void read_field(const nlohmann::json& j, const char* key, T& out) {
  if (!j.contains(key)) return;  // keep the default: older metadata may lack newer fields
  try {
    out = j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(str("model config: field '", key, "' has the wrong type (", j.at(key).dump(), "): ", e.what()));
  }
}

void from_json(const nlohmann::json& j, ModelConfig& c) {
  CXR_CHECK(j.is_object(), "model config: expected a JSON object, got ", j.dump());
  ModelConfig r;
  read_field(j, "arch", r.arch);
  read_field(j, "batch_norm", r.batch_norm);
  read_field(j, "width", r.width);
  read_field(j, "in_channels", r.in_channels);
  read_field(j, "input_size", r.input_size);
  read_field(j, "head", r.head);
  read_field(j, "num_classes", r.num_classes);
  read_field(j, "dropout", r.dropout);
  read_field(j, "seed", r.seed);
  // Accept "vgg16_bn" as an arch too (a name a person might write by hand).
  if (r.arch.size() > 3 && r.arch.compare(r.arch.size() - 3, 3, "_bn") == 0) r = config_from_name(r.arch, r);
  validate(r);
  c = r;
}

// ---- Model -------------------------------------------------------------------------------------------

Model::Model(const ModelConfig& c) : config_(c) {
  validate(c);
  flatten = std::make_shared<Flatten>();
}

std::string Model::describe() const {
  const ModelConfig& c = config_;
  return str(model_name(c), "(width=", c.width, ", in_channels=", c.in_channels, ", input_size=", c.input_size,
             ", head=", c.head, ", num_classes=", c.num_classes, ", dropout=", c.dropout, ")");
}

void Model::set_parts(std::shared_ptr<Sequential> f, std::shared_ptr<AdaptiveAvgPool2d> pool,
                      std::shared_ptr<Sequential> cls) {
  features = std::move(f);
  avgpool = std::move(pool);
  classifier = std::move(cls);
  register_module("features", features);
  if (avgpool) register_module("avgpool", avgpool);
  register_module("classifier", classifier);
}

uint64_t Model::dropout_seed(int i) const {
  return Rng(config_.seed).fork(0xD0D0 + static_cast<uint64_t>(i)).next_u64();
}

std::shared_ptr<AdaptiveAvgPool2d> Model::build_gap_head(Sequential& cls, int channels, Rng& rng) {
  const ModelConfig& c = config_;
  if (c.head == "gap") {
    cls.add(std::make_shared<Linear>(channels, c.num_classes, rng));
  } else {
    CXR_CHECK(c.head == "gap256", "build_gap_head: head '", c.head, "' is not a gap head");
    cls.add(std::make_shared<Linear>(channels, 256, rng));
    cls.add(std::make_shared<ReLU>(/*inplace=*/true));
    cls.add(std::make_shared<Dropout>(c.dropout, dropout_seed(0)));
    cls.add(std::make_shared<Linear>(256, c.num_classes, rng));
  }
  return std::make_shared<AdaptiveAvgPool2d>(1, 1);
}

void Model::check_input(const Shape& x) const {
  CXR_CHECK(x.size() == 4, name(), ": input ", to_string(x), " must be [N, C, H, W]");
  CXR_CHECK(x[1] == config_.in_channels, name(), ": input ", to_string(x), " has ", x[1],
            " channels but the model was built for ", config_.in_channels);
  CXR_CHECK(x[2] >= 32 && x[3] >= 32 && x[2] % 32 == 0 && x[3] % 32 == 0, name(), ": input ", to_string(x),
            ": height and width must be positive multiples of 32 (the network halves them 5 times); resize to ",
            "e.g. ", config_.input_size, "x", config_.input_size);
}

Variable Model::forward(const Variable& x) {
  check_input(x.shape());
  Variable h = (*features)(x);
  if (avgpool) h = (*avgpool)(h);
  h = (*flatten)(h);
  return (*classifier)(h);
}

std::vector<LayerRef> Model::layers() {
  std::vector<LayerRef> out;
  for (size_t i = 0; i < features->size(); ++i)
    out.push_back({"features." + std::to_string(i), &features->at(i), "features", i});
  if (avgpool) out.push_back({"avgpool", avgpool.get(), "avgpool", 0});
  out.push_back({"flatten", flatten.get(), "flatten", 0});
  for (size_t i = 0; i < classifier->size(); ++i)
    out.push_back({"classifier." + std::to_string(i), &classifier->at(i), "classifier", i});
  return out;
}

Variable Model::forward_after(size_t position, const Variable& activation) {
  const size_t nf = features->size();
  const size_t ntail = (avgpool ? 1 : 0) + 1;  // avgpool?, flatten
  const size_t total = nf + ntail + classifier->size();
  CXR_CHECK(position < total, name(), ": forward_after(", position, "): the model has ", total, " layers");
  size_t next = position + 1;  // first layer still to run, in layers() order
  Variable h = activation;
  if (next < nf) {
    h = features->forward_range(h, next, nf);
    next = nf;
  }
  size_t k = nf;  // position of the layer considered next
  if (avgpool) {
    if (next <= k) h = (*avgpool)(h);
    ++k;
  }
  if (next <= k) h = (*flatten)(h);
  ++k;
  const size_t first_cls = next > k ? next - k : 0;
  return classifier->forward_range(h, first_cls, classifier->size());
}

Variable Model::forward_from(size_t feature_index, const Variable& activation) {
  CXR_CHECK(feature_index < features->size(), name(), ": forward_from(", feature_index, "): features has ",
            features->size(), " layers");
  return forward_after(feature_index, activation);
}

Variable Model::forward_to(size_t feature_index, const Variable& x) {
  CXR_CHECK(feature_index < features->size(), name(), ": forward_to(", feature_index, "): features has ",
            features->size(), " layers");
  check_input(x.shape());
  return features->forward_range(x, 0, feature_index + 1);
}

std::shared_ptr<Model> make_model(const ModelConfig& c) {
  validate(c);
  if (c.arch == "seedcnn") return std::make_shared<SeedCNN>(c);
  return std::make_shared<VGG>(c);
}

}  // namespace cxr
