// models/: VGG exactly as torchvision builds it (names and shapes against a torchvision fixture, the
// well-known parameter counts and MACs), the seed CNN, width scaling, layer aliases, forward_from, the
// summary, the model config's JSON, and `cxr summary`.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/init.h"
#include "error_of.h"
#include "io/checkpoint.h"
#include "models/layer_names.h"
#include "models/model.h"
#include "models/seedcnn.h"
#include "models/summary.h"
#include "models/vgg.h"

using namespace cxr;

namespace {

ModelConfig cfg(const std::string& name, int classes = 3, float width = 1.0f, int channels = 3, int size = 224,
                const std::string& head = "torchvision") {
  ModelConfig c = config_from_name(name);
  c.num_classes = classes;
  c.width = width;
  c.in_channels = channels;
  c.input_size = size;
  c.head = head;
  c.seed = 7;
  return c;
}

Variable random_input(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Rng rng(seed);
  normal_(t, 0.0f, 1.0f, rng);
  return Variable(t);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

// Runs a shell command, returning its exit status and stdout.
int run(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Initialisation as torchvision's VGG._initialize_weights, on vgg11_bn at width 1.
void check_torchvision_init(Model& m) {
  auto params = m.named_parameters();
  std::map<std::string, Variable*> p(params.begin(), params.end());
  auto stddev = [](const Tensor& t) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += t[i], s2 += double(t[i]) * t[i];
    s /= t.numel();
    return std::sqrt(s2 / t.numel() - s * s);
  };
  // Kaiming normal, fan_out: std = sqrt(2 / (out * 3 * 3)); features.4 is the 64 -> 128 conv.
  const double kaiming = std::sqrt(2.0 / (128 * 9));
  EXPECT_NEAR(stddev(p["features.4.weight"]->data()), kaiming, 0.02 * kaiming);
  EXPECT_NEAR(stddev(p["classifier.3.weight"]->data()), 0.01, 0.0002);
  for (const char* zero : {"features.0.bias", "features.1.bias", "classifier.0.bias", "classifier.6.bias"})
    for (int64_t i = 0; i < p[zero]->numel(); ++i) ASSERT_EQ(p[zero]->data()[i], 0.0f) << zero;
  for (int64_t i = 0; i < p["features.1.weight"]->numel(); ++i) ASSERT_EQ(p["features.1.weight"]->data()[i], 1.0f);
}

}  // namespace

// ---- torchvision interoperability ---------------------------------------------------------------------

TEST(VGG, NamesAndShapesEqualTorchvision) {
  std::ifstream f(std::string(CXR_FIXTURE_DIR) + "/vgg_state_dict_names.json");
  ASSERT_TRUE(f.good()) << "missing fixture vgg_state_dict_names.json (tests/fixtures/make_vgg_names.py)";
  nlohmann::json fx = nlohmann::json::parse(f);
  ASSERT_EQ(fx["num_classes"].get<int>(), 3);
  int checked = 0;
  for (auto& [arch, m] : fx["models"].items()) {
    SCOPED_TRACE(arch);
    auto model = make_model(cfg(arch, 3));
    std::map<std::string, Shape> ours;
    std::vector<std::string> our_params;
    for (auto& [n, v] : model->named_parameters()) {
      ours[n] = v->shape();
      our_params.push_back(n);
    }
    for (auto& [n, t] : model->named_buffers()) ours[n] = t->shape();

    std::vector<std::string> torch_params;  // state_dict order minus the buffers
    size_t n_torch = 0;
    for (auto& kv : m["keys"]) {
      const std::string name = kv[0].get<std::string>();
      const Shape shape = kv[1].get<Shape>();
      ++n_torch;
      auto it = ours.find(name);
      ASSERT_NE(it, ours.end()) << "torchvision has " << name << ", cxr does not";
      if (name.ends_with("num_batches_tracked")) {
        // PyTorch keeps a 0-d integer; cxr a one-element float tensor (the checkpoint writes it as I64 []).
        EXPECT_EQ(numel(it->second), 1) << name;
        EXPECT_EQ(shape, Shape{}) << name;
      } else {
        EXPECT_EQ(it->second, shape) << name << ": cxr " << to_string(it->second) << " vs torchvision "
                                     << to_string(shape);
      }
      if (!name.ends_with("running_mean") && !name.ends_with("running_var") &&
          !name.ends_with("num_batches_tracked"))
        torch_params.push_back(name);
    }
    EXPECT_EQ(ours.size(), n_torch) << "cxr has names torchvision lacks";
    EXPECT_EQ(our_params, torch_params) << "parameter order differs";
    EXPECT_EQ(model->parameter_count(), m["parameter_count"].get<int64_t>());
    if (arch == "vgg11_bn") check_torchvision_init(*model);  // full-size models are slow to build: reuse one
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST(VGG, ImageNetParameterCountsAndMACs) {
  // torchvision's documented figures for the 1000-class models.
  auto vgg16 = make_model(cfg("vgg16", 1000));
  EXPECT_EQ(vgg16->parameter_count(), 138357544);
  ModelSummary s = summarize(*vgg16);
  EXPECT_EQ(s.total_params, vgg16->parameter_count());
  EXPECT_EQ(s.trainable_params, s.total_params);
  EXPECT_EQ(s.buffer_values, 0);
  EXPECT_NEAR(static_cast<double>(s.total_macs), 15.47e9, 0.01 * 15.47e9);
  // The first conv by hand: 64 maps of 224x224, each output 3*3*3 multiply-adds.
  EXPECT_EQ(s.rows.at(0).macs, int64_t{64} * 224 * 224 * 3 * 3 * 3);
  EXPECT_EQ(s.rows.back().output, (Shape{1, 1000}));
  vgg16.reset();

  auto vgg16bn = make_model(cfg("vgg16_bn", 1000));
  EXPECT_EQ(vgg16bn->parameter_count(), 138365992);
  ModelSummary sb = summarize(*vgg16bn);
  EXPECT_EQ(sb.total_params, 138365992);
  EXPECT_EQ(sb.buffer_values, 2 * 4224 + 13);  // running mean + var of 4224 BN channels, 13 counters
}

// ---- width, inputs, heads ------------------------------------------------------------------------------

TEST(Models, WidthScalesChannelsAndHiddenFC) {
  EXPECT_EQ(scaled_channels(64, 1.0f), 64);
  EXPECT_EQ(scaled_channels(64, 0.25f), 16);
  EXPECT_EQ(scaled_channels(4096, 0.25f), 1024);
  EXPECT_EQ(scaled_channels(3, 0.1f), 1);  // never zero
  auto m = make_model(cfg("vgg16", 3, 0.25f, 1, 128));
  std::map<std::string, Shape> shapes;
  for (auto& [n, v] : m->named_parameters()) shapes[n] = v->shape();
  EXPECT_EQ(shapes["features.0.weight"], (Shape{16, 1, 3, 3}));
  EXPECT_EQ(shapes["features.28.weight"], (Shape{128, 128, 3, 3}));
  EXPECT_EQ(shapes["classifier.0.weight"], (Shape{1024, 128 * 7 * 7}));
  EXPECT_EQ(shapes["classifier.3.weight"], (Shape{1024, 1024}));
  EXPECT_EQ(shapes["classifier.6.weight"], (Shape{3, 1024}));
}

TEST(Models, QuarterWidthForwardGivesLogits) {
  struct Case {
    std::string arch, head;
    int channels, size;
  };
  for (const Case& k : {Case{"vgg16", "torchvision", 1, 64}, Case{"vgg16_bn", "torchvision", 3, 128},
                        Case{"vgg11_bn", "gap", 1, 64}, Case{"vgg13", "gap256", 3, 64},
                        Case{"seedcnn", "torchvision", 1, 64}, Case{"seedcnn_bn", "gap", 3, 128}}) {
    SCOPED_TRACE(k.arch + " " + k.head);
    auto m = make_model(cfg(k.arch, 4, 0.25f, k.channels, k.size, k.head));
    NoGradGuard ng;
    Variable y = m->forward(random_input({2, k.channels, k.size, k.size}, 1));
    ASSERT_EQ(y.shape(), (Shape{2, 4}));
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_TRUE(std::isfinite(y.data()[i]));
  }
}

TEST(Models, GapHeadStructure) {
  auto gap = make_model(cfg("vgg16", 3, 1.0f, 3, 224, "gap"));
  ASSERT_EQ(gap->classifier->size(), 1u);
  auto* l = dynamic_cast<Linear*>(&gap->classifier->at(0));
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->in_features, 512);
  EXPECT_EQ(gap->avgpool->out_h, 1);
  auto gap256 = make_model(cfg("vgg16_bn", 3, 0.5f, 3, 224, "gap256"));
  ASSERT_EQ(gap256->classifier->size(), 4u);
  EXPECT_EQ(dynamic_cast<Linear*>(&gap256->classifier->at(0))->in_features, 256);
  EXPECT_EQ(dynamic_cast<Linear*>(&gap256->classifier->at(0))->out_features, 256);
  EXPECT_EQ(dynamic_cast<Linear*>(&gap256->classifier->at(3))->out_features, 3);
}

TEST(Models, BadInputsAndConfigsGiveClearErrors) {
  EXPECT_NE(error_of([] { validate(cfg("vgg16", 3, 1.0f, 3, 100)); }).find("multiple of 32"), std::string::npos);
  EXPECT_NE(error_of([] { make_model(cfg("vgg16", 3, 1.0f, 3, 0)); }).find("input_size"), std::string::npos);
  auto m = make_model(cfg("vgg11", 3, 0.125f, 3, 64));
  const std::string e1 = error_of([&] { m->forward(random_input({1, 3, 100, 100}, 2)); });
  EXPECT_NE(e1.find("multiples of 32"), std::string::npos) << e1;
  EXPECT_NE(e1.find("[1, 3, 100, 100]"), std::string::npos) << e1;
  const std::string e2 = error_of([&] { m->forward(random_input({1, 1, 64, 64}, 2)); });
  EXPECT_NE(e2.find("channels"), std::string::npos) << e2;
  // The flatten head of the seed CNN needs exactly its input size; VGG's adaptive pool takes any.
  auto seed = make_model(cfg("seedcnn", 3, 0.25f, 1, 64));
  EXPECT_NE(error_of([&] { seed->forward(random_input({1, 1, 96, 96}, 2)); }).find("64x64"), std::string::npos);
  {
    NoGradGuard ng;
    EXPECT_EQ(m->forward(random_input({1, 3, 96, 128}, 2)).shape(), (Shape{1, 3}));
  }
  EXPECT_NE(error_of([] { config_from_name("vgg17"); }).find("vgg16"), std::string::npos);
  ModelConfig bad = cfg("vgg16");
  bad.head = "fancy";
  EXPECT_NE(error_of([&] { validate(bad); }).find("gap256"), std::string::npos);
  bad = cfg("vgg16");
  bad.in_channels = 2;
  EXPECT_NE(error_of([&] { validate(bad); }).find("in_channels"), std::string::npos);
  bad = cfg("vgg16");
  bad.dropout = 1.0f;
  EXPECT_THROW(validate(bad), Error);
}

TEST(Models, SeedSetsTheWeights) {
  auto a = make_model(cfg("seedcnn", 3, 0.25f, 1, 64));
  auto b = make_model(cfg("seedcnn", 3, 0.25f, 1, 64));
  ModelConfig c = cfg("seedcnn", 3, 0.25f, 1, 64);
  c.seed = 8;
  auto d = make_model(c);
  EXPECT_TRUE(same_bits(a->features->ptr(0)->named_parameters()[0].second->data(),
                        b->features->ptr(0)->named_parameters()[0].second->data()));
  EXPECT_FALSE(same_bits(a->features->ptr(0)->named_parameters()[0].second->data(),
                         d->features->ptr(0)->named_parameters()[0].second->data()));
}

TEST(SeedCNN, Structure) {
  auto m = make_model(cfg("seedcnn", 3, 1.0f, 3, 224));
  EXPECT_EQ(m->type(), "SeedCNN");
  EXPECT_EQ(m->avgpool, nullptr);
  std::vector<std::string> names;
  for (auto& [n, v] : m->named_parameters()) names.push_back(n + to_string(v->shape()));
  const std::vector<std::string> want = {
      "features.0.weight[32, 3, 3, 3]",       "features.0.bias[32]",    "features.3.weight[64, 32, 3, 3]",
      "features.3.bias[64]",                  "features.6.weight[128, 64, 3, 3]", "features.6.bias[128]",
      "classifier.0.weight[128, 100352]",     "classifier.0.bias[128]", "classifier.3.weight[3, 128]",
      "classifier.3.bias[3]"};
  EXPECT_EQ(names, want);
}

// ---- layer names ---------------------------------------------------------------------------------------

TEST(LayerNames, AliasesFollowTorchvisionIndices) {
  struct Case {
    std::string arch, alias, name;
  };
  // Indices counted from torchvision's configurations (conv [+bn] + relu per entry, one pool per block).
  const std::vector<Case> cases = {
      {"vgg16", "conv1_1", "features.0"},        {"vgg16", "relu1_1", "features.1"},
      {"vgg16", "pool1", "features.4"},          {"vgg16", "conv5_3", "features.28"},
      {"vgg16", "relu5_3", "features.29"},       {"vgg16", "pool5", "features.30"},
      {"vgg16", "block5_conv3", "features.29"},  {"vgg16", "block5_pool", "features.30"},
      {"vgg16", "fc1", "classifier.0"},          {"vgg16", "relu_fc1", "classifier.1"},
      {"vgg16", "drop_fc1", "classifier.2"},     {"vgg16", "fc2", "classifier.3"},
      {"vgg16", "fc3", "classifier.6"},          {"vgg16", "logits", "classifier.6"},
      {"vgg16", "avgpool", "avgpool"},           {"vgg16", "features.17", "features.17"},
      {"vgg16", "RELU5_3", "features.29"},       {"vgg16_bn", "conv5_3", "features.40"},
      {"vgg16_bn", "bn5_3", "features.41"},      {"vgg16_bn", "relu5_3", "features.42"},
      {"vgg16_bn", "pool5", "features.43"},      {"vgg16_bn", "bn1_1", "features.1"},
      {"vgg11", "relu5_2", "features.19"},       {"vgg11", "pool5", "features.20"},
      {"vgg11", "pool2", "features.5"},          {"vgg11_bn", "pool5", "features.28"},
      {"vgg13", "pool5", "features.24"},         {"vgg13_bn", "relu5_2", "features.33"},
      {"vgg19", "relu5_4", "features.35"},       {"vgg19", "pool5", "features.36"},
      {"vgg19_bn", "relu5_4", "features.51"},    {"vgg19_bn", "pool5", "features.52"},
      {"seedcnn", "conv3_1", "features.6"},      {"seedcnn", "pool3", "features.8"},
      {"seedcnn", "fc2", "classifier.3"},        {"seedcnn", "logits", "classifier.3"},
      {"seedcnn_bn", "bn2_1", "features.5"},
  };
  std::map<std::string, std::shared_ptr<Model>> models;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.arch + " " + k.alias);
    auto& m = models[k.arch];
    if (!m) m = make_model(cfg(k.arch, 3, 0.125f, 1, 64));
    LayerInfo l = resolve_layer(*m, k.alias);
    EXPECT_EQ(l.name, k.name);
    EXPECT_EQ(l.module, resolve_layer(*m, k.name).module);
  }
  auto& vgg16bn = *models["vgg16_bn"];
  EXPECT_EQ(last_conv_activation(*models["vgg16"]).name, "features.29");
  EXPECT_EQ(last_conv_activation(vgg16bn).name, "features.42");
  LayerInfo l = resolve_layer(vgg16bn, "relu5_3");
  EXPECT_EQ(l.section, "features");
  EXPECT_EQ(l.index, 42u);
  EXPECT_EQ(l.module, &vgg16bn.features->at(42));
  EXPECT_EQ(display_name(l), "features.42 (relu5_3)");
  EXPECT_EQ(vgg16bn.layers().at(l.position).module, l.module);
  EXPECT_EQ(resolve_layer(*models["vgg16"], "relu5_3").module->type(), "ReLU");
  EXPECT_EQ(resolve_layer(*models["vgg16"], "pool5").module->type(), "MaxPool2d");
}

TEST(LayerNames, UnknownNameListsTheValidOnes) {
  auto m = make_model(cfg("vgg16", 3, 0.125f, 1, 64));
  const std::string e = error_of([&] { resolve_layer(*m, "conv6_1"); });
  EXPECT_NE(e.find("conv6_1"), std::string::npos) << e;
  EXPECT_NE(e.find("features.29 (relu5_3)"), std::string::npos) << e;
  EXPECT_NE(e.find("classifier.6 (fc3)"), std::string::npos) << e;
  EXPECT_THROW(resolve_layer(*m, "features.31"), Error);
  EXPECT_THROW(resolve_layer(*m, "bn5_3"), Error);  // no batch norm here
}

// ---- forward_from / forward hooks --------------------------------------------------------------------

TEST(Models, ForwardFromEqualsTheFullForward) {
  for (const std::string arch : {"vgg16", "vgg16_bn", "seedcnn"}) {
    SCOPED_TRACE(arch);
    auto m = make_model(cfg(arch, 3, 0.125f, 3, 32));
    m->eval();
    NoGradGuard ng;
    Variable x = random_input({2, 3, 32, 32}, 3);
    Tensor full = m->forward(x).data();
    for (size_t k = 0; k < m->features->size(); ++k) {
      Variable act = m->forward_to(k, x);
      ASSERT_TRUE(same_bits(m->forward_from(k, act).data(), full)) << "forward_from(" << k << ")";
    }
    // Any layer position, the head included: run layer by layer, then the rest from there.
    std::vector<LayerRef> layers = m->layers();
    Variable h = x;
    for (size_t p = 0; p < layers.size(); ++p) {
      h = (*layers[p].module)(h);
      ASSERT_TRUE(same_bits(m->forward_after(p, h).data(), full)) << "forward_after(" << layers[p].name << ")";
    }
    EXPECT_THROW(m->forward_from(m->features->size(), x), Error);
  }
}

TEST(Models, HooksSeeLayerOutputs) {
  auto m = make_model(cfg("vgg16", 3, 0.25f, 3, 64));
  m->eval();
  NoGradGuard ng;
  LayerInfo l = resolve_layer(*m, "relu5_3");
  Tensor seen;
  int id = l.module->add_forward_hook([&](Module&, Variable& out) { seen = out.data().clone(); });
  Variable x = random_input({1, 3, 64, 64}, 4);
  m->forward(x);
  l.module->remove_forward_hook(id);
  ASSERT_TRUE(seen.defined());
  EXPECT_TRUE(same_bits(seen, m->forward_to(l.index, x).data()));
}

// ---- summary -----------------------------------------------------------------------------------------

TEST(Summary, ShapesMatchARealForward) {
  for (const std::string arch : {"vgg16_bn", "seedcnn", "vgg11"}) {
    SCOPED_TRACE(arch);
    auto m = make_model(cfg(arch, 5, 0.25f, 1, 64, arch == "vgg11" ? "gap256" : "torchvision"));
    m->eval();
    std::vector<Shape> real;
    for (const LayerRef& l : m->layers())
      l.module->add_forward_hook([&](Module&, Variable& out) { real.push_back(out.shape()); });
    {
      NoGradGuard ng;
      m->forward(random_input({1, 1, 64, 64}, 5));
    }
    ModelSummary s = summarize(*m);
    ASSERT_EQ(s.rows.size(), real.size());
    for (size_t i = 0; i < real.size(); ++i) EXPECT_EQ(s.rows[i].output, real[i]) << s.rows[i].name;
    EXPECT_EQ(s.total_params, m->parameter_count());
    int64_t buffers = 0;
    for (auto& [n, t] : m->named_buffers()) buffers += t->numel();
    EXPECT_EQ(s.buffer_values, buffers);
    int64_t act = 64 * 64;
    for (const Shape& sh : real) act += numel(sh);
    EXPECT_EQ(s.activation_bytes, act * 4);
  }
}

TEST(Summary, FrozenFeaturesAreNotTrainable) {
  auto m = make_model(cfg("vgg11", 3, 0.25f, 1, 64, "gap"));
  m->features->set_requires_grad(false);
  ModelSummary s = summarize(*m);
  EXPECT_EQ(s.trainable_params, m->classifier->parameter_count());
  const std::string table = format_summary(s);
  EXPECT_NE(table.find("features.0 (conv1_1)"), std::string::npos) << table;
  EXPECT_NE(table.find("Non-trainable params: " ), std::string::npos);
  nlohmann::json j = summary_json(s);
  EXPECT_EQ(j["total_params"].get<int64_t>(), m->parameter_count());
  EXPECT_EQ(j["layers"].size(), s.rows.size());
  EXPECT_EQ(j["model_config"]["arch"], "vgg11");
}

// ---- config JSON --------------------------------------------------------------------------------------

TEST(ModelConfig, JsonRoundTripAndDefaults) {
  ModelConfig c = cfg("vgg19_bn", 5, 0.5f, 1, 128, "gap256");
  c.dropout = 0.25f;
  c.seed = 12345678901234ull;
  nlohmann::json j = c;
  ModelConfig r = j.get<ModelConfig>();
  EXPECT_EQ(r.arch, "vgg19");
  EXPECT_TRUE(r.batch_norm);
  EXPECT_EQ(r.width, 0.5f);
  EXPECT_EQ(r.in_channels, 1);
  EXPECT_EQ(r.input_size, 128);
  EXPECT_EQ(r.head, "gap256");
  EXPECT_EQ(r.num_classes, 5);
  EXPECT_EQ(r.dropout, 0.25f);
  EXPECT_EQ(r.seed, 12345678901234ull);
  ModelConfig d = nlohmann::json::parse(R"({"arch": "vgg11_bn", "num_classes": 2})").get<ModelConfig>();
  EXPECT_EQ(d.arch, "vgg11");
  EXPECT_TRUE(d.batch_norm);
  EXPECT_EQ(d.input_size, 224);
  EXPECT_NE(error_of([] { nlohmann::json::parse(R"({"width": "wide"})").get<ModelConfig>(); }).find("width"),
            std::string::npos);
  EXPECT_THROW(nlohmann::json::parse(R"({"input_size": 225})").get<ModelConfig>(), Error);
  EXPECT_EQ(model_name(d), "vgg11_bn");
}

// ---- cxr summary ---------------------------------------------------------------------------------------

TEST(Cli, SummaryTableAndJson) {
  std::string out;
  ASSERT_EQ(run(std::string(CXR_BINARY) + " summary --arch vgg16 --bn --width 0.25 --size 64 --channels 1", out), 0);
  EXPECT_NE(out.find("features.42 (relu5_3)"), std::string::npos) << out;
  EXPECT_NE(out.find("Total params:"), std::string::npos) << out;
  ASSERT_EQ(run(std::string(CXR_BINARY) + " summary --arch seedcnn --size 64 --classes 4 --json", out), 0);
  nlohmann::json j = nlohmann::json::parse(out);
  auto m = make_model(cfg("seedcnn", 4, 1.0f, 3, 64));
  EXPECT_EQ(j["total_params"].get<int64_t>(), m->parameter_count());
  EXPECT_EQ(j["layers"].back()["output_shape"], (Shape{1, 4}));
  // Values outside what the options' help allows are usage errors (exit 2), named by the option.
  const auto with_stderr = [](const std::string& args) {  // run() drops stderr, where the message goes
    return "sh -c '" + std::string(CXR_BINARY) + " " + args + " 2>&1'";
  };
  EXPECT_EQ(run(with_stderr("summary --arch vgg16 --size 100"), out), 2);
  EXPECT_NE(out.find("cxr summary: --size: 100 is not a multiple of 32"), std::string::npos) << out;
  EXPECT_EQ(run(with_stderr("summary --arch nope"), out), 2);
  EXPECT_NE(out.find("cxr summary: --arch: unknown model 'nope'"), std::string::npos) << out;
  EXPECT_EQ(run(std::string(CXR_BINARY) + " summary --bogus", out), 2);
}

TEST(Cli, SummaryShowsEachConvolutionsAlgorithm) {
  std::string out;
  const std::string cxr = std::string(CXR_BINARY) + " summary --arch vgg11 --width 0.25 --size 64 ";
  ASSERT_EQ(run(cxr, out), 0);
  EXPECT_NE(out.find("features.0 (conv1_1)        Conv2d (im2col)"), std::string::npos) << out;
  EXPECT_NE(out.find("features.3 (conv2_1)        Conv2d (im2col)"), std::string::npos) << out;
  ASSERT_EQ(run(cxr + "--conv winograd", out), 0);
  // 3 input channels: im2col; 16 and more: Winograd.
  EXPECT_NE(out.find("features.0 (conv1_1)        Conv2d (im2col)"), std::string::npos) << out;
  EXPECT_NE(out.find("features.3 (conv2_1)        Conv2d (winograd)"), std::string::npos) << out;
  ASSERT_EQ(run(cxr + "--conv AUTO --json", out), 0);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["conv"], "auto");
  EXPECT_EQ(j["layers"][0]["conv_algo"], "im2col");
  EXPECT_EQ(j["layers"][3]["conv_algo"], "auto") << "not timed before a forward";
  EXPECT_FALSE(j["layers"][1].contains("conv_algo")) << "a ReLU";
  EXPECT_EQ(run("sh -c '" + cxr + "--conv fft 2>&1'", out), 2);
  EXPECT_NE(out.find("unknown convolution algorithm 'fft': use auto | im2col | winograd"), std::string::npos) << out;
  EXPECT_EQ(run(std::string(CXR_BINARY) + " info --conv im2col x.png", out), 2) << "info runs no model";
}

TEST(Cli, SummaryOfACheckpoint) {
  ModelConfig c = cfg("vgg11_bn", 3, 0.125f, 1, 64, "gap256");
  auto m = make_model(c);
  io::CheckpointMeta meta;
  meta.model = c;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string path =
      (std::filesystem::temp_directory_path() / ("cxr_test_models_" + std::to_string(getpid()) + ".safetensors"))
          .string();
  io::save_checkpoint(path, *m, meta);
  std::string out;
  ASSERT_EQ(run(std::string(CXR_BINARY) + " summary --model " + path + " --json", out), 0);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["total_params"].get<int64_t>(), m->parameter_count());
  EXPECT_EQ(j["model"], "vgg11_bn");
  EXPECT_EQ(j["input_shape"], (Shape{1, 1, 64, 64}));
  EXPECT_EQ(j["checkpoint"]["classes"][2], "PNEUMONIA");
  ASSERT_EQ(run(std::string(CXR_BINARY) + " summary --model " + path + " --size 96", out), 0);
  EXPECT_NE(out.find("Input: [1, 1, 96, 96]"), std::string::npos) << out;
  EXPECT_EQ(out.find("input_size=64"), std::string::npos) << out;  // the model line says the size shown, too
  EXPECT_NE(out.find("input_size=96"), std::string::npos) << out;
  EXPECT_NE(out.find("Classes: COVID19, NORMAL, PNEUMONIA"), std::string::npos) << out;
  EXPECT_EQ(run(std::string(CXR_BINARY) + " summary --model " + path + " --arch vgg16", out), 2);  // exclusive
  std::filesystem::remove(path);
}
