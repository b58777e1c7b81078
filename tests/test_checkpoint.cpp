// io/checkpoint: a model's state through a safetensors file and back (parameters, batch-norm buffers with
// PyTorch's int64 counter, metadata), strict and fine-tuning loads with errors that list names and shapes,
// models left untouched by failed loads, header-only description, and optimizer state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "core/rng.h"
#include "error_of.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "layers/modules.h"
#include "layers/optim.h"
#include "models/model.h"

using namespace cxr;
using namespace cxr::io;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("cxr_test_checkpoint_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  fs::path dir;
};

// conv -> bn -> relu -> pool -> flatten -> linear(classes): names 0.weight, 1.running_mean, 5.weight ...
std::shared_ptr<Sequential> tiny_net(uint64_t seed, int classes = 3, int channels = 4) {
  Rng rng(seed);
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(2, channels, 3, 1, 1, true, rng));
  net->add(std::make_shared<BatchNorm2d>(channels));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<MaxPool2d>(2, 2));
  net->add(std::make_shared<Flatten>());
  net->add(std::make_shared<Linear>(channels * 4 * 4, classes, rng));
  return net;
}

Tensor random_input(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

// Runs a few training-mode batches so batch-norm's running stats and counter move off their defaults.
void train_a_little(Module& m, const Shape& input, int batches) {
  m.train();
  NoGradGuard ng;
  for (int b = 0; b < batches; ++b) m(Variable(random_input(input, 100 + b)));
  m.eval();
}

// Every parameter and buffer, deep-copied, by name.
std::map<std::string, Tensor> snapshot(Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [n, v] : m.named_parameters()) out[n] = v->data().clone();
  for (auto& [n, t] : m.named_buffers()) out[n] = t->clone();
  return out;
}

bool bits_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * 4) == 0;
}

// Names whose values differ between two snapshots (empty: identical, bit for bit).
std::vector<std::string> differing(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  std::vector<std::string> out;
  for (auto& [n, t] : a)
    if (!b.count(n) || !bits_equal(t, b.at(n))) out.push_back(n);
  return out;
}

Tensor run(Module& m, const Tensor& x) {
  NoGradGuard ng;
  m.eval();
  return m(Variable(x)).data().clone();
}

LoadOptions non_strict() {
  LoadOptions o;
  o.strict = false;
  return o;
}

ModelConfig small_vgg(const std::string& name, int classes, uint64_t seed) {
  ModelConfig c = config_from_name(name);
  c.width = 0.0625f;
  c.input_size = 32;
  c.in_channels = 1;
  c.num_classes = classes;
  c.seed = seed;
  return c;
}

}  // namespace

// ---- round trips ---------------------------------------------------------------------------------------

TEST_F(CheckpointTest, ModuleRoundTripGivesIdenticalStateAndOutputs) {
  auto a = tiny_net(1);
  train_a_little(*a, {2, 2, 8, 8}, 3);
  auto b = tiny_net(2);
  ASSERT_FALSE(differing(snapshot(*a), snapshot(*b)).empty()) << "different seeds must differ to begin with";
  const std::string p = path("tiny.safetensors");
  save_checkpoint(p, *a, {});
  LoadReport report;
  load_checkpoint(p, *b, {}, &report);
  EXPECT_TRUE(differing(snapshot(*a), snapshot(*b)).empty());
  EXPECT_EQ(report.loaded.size(), 9u);  // conv w/b, bn w/b/mean/var/count, linear w/b
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty() && report.skipped.empty());
  const Tensor x = random_input({3, 2, 8, 8}, 9);
  EXPECT_TRUE(bits_equal(run(*a, x), run(*b, x)));
  EXPECT_EQ(dynamic_cast<BatchNorm2d&>(b->at(1)).num_batches_tracked[0], 3.0f);
}

// What torchvision expects: every state_dict name, F32, and num_batches_tracked as an int64 scalar.
TEST_F(CheckpointTest, FileHoldsTorchStateDictNamesAndDTypes) {
  auto a = tiny_net(1);
  train_a_little(*a, {2, 2, 8, 8}, 2);
  const std::string p = path("tiny.safetensors");
  save_checkpoint(p, *a, {});
  SafeTensors st = load_safetensors(p);
  std::vector<std::string> names;
  for (auto& t : st.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean",
                                             "1.running_var", "1.weight", "5.bias", "5.weight"}));
  const NamedTensor* nbt = st.find("1.num_batches_tracked");
  EXPECT_EQ(nbt->dtype, DType::I64);
  EXPECT_EQ(nbt->value.shape(), Shape{});
  EXPECT_EQ(nbt->ints, (std::vector<int64_t>{2}));
  EXPECT_EQ(st.find("0.weight")->dtype, DType::F32);
  EXPECT_EQ(st.find("0.weight")->value.shape(), (Shape{4, 2, 3, 3}));
  EXPECT_EQ(st.metadata.at("format"), "pt");
}

TEST_F(CheckpointTest, VggWithMetadataRoundTrips) {
  auto a = make_model(small_vgg("vgg11_bn", 3, 5));
  train_a_little(*a, {2, 1, 32, 32}, 2);
  CheckpointMeta meta;
  meta.model = a->config();
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  meta.mean = {0.485f};
  meta.std = {0.229f};
  meta.epoch = 7;
  meta.step = 1234;
  meta.seed = 42;
  meta.metrics = {{"val_accuracy", 0.9375}, {"val_loss", 0.1 + 0.2}};
  meta.source = "cxr train";
  meta.created = "2024-05-01T12:00:00Z";
  meta.extra = {{"lr", 0.01}, {"augment", {"flip", "rotate"}}};
  const std::string p = path("vgg.safetensors");
  save_checkpoint(p, *a, meta);

  const CheckpointMeta got = read_checkpoint_meta(p);
  EXPECT_TRUE(got.found);
  EXPECT_EQ(got.model.arch, "vgg11");
  EXPECT_TRUE(got.model.batch_norm);
  EXPECT_EQ(got.model.width, 0.0625f);
  EXPECT_EQ(got.model.in_channels, 1);
  EXPECT_EQ(got.model.input_size, 32);
  EXPECT_EQ(got.model.num_classes, 3);
  EXPECT_EQ(got.model.seed, 5u);
  EXPECT_EQ(got.classes, meta.classes);
  EXPECT_EQ(got.mean, meta.mean);
  EXPECT_EQ(got.std, meta.std);
  EXPECT_EQ(got.epoch, 7);
  EXPECT_EQ(got.step, 1234);
  EXPECT_EQ(got.seed, 42u);
  EXPECT_EQ(got.metrics, meta.metrics);  // doubles exactly
  EXPECT_EQ(got.source, "cxr train");
  EXPECT_EQ(got.created, meta.created);
  EXPECT_EQ(got.extra, meta.extra);

  // A Model's own config goes into the file even when the caller's meta says otherwise.
  CheckpointMeta stale = meta;
  stale.model = ModelConfig{};  // default vgg16, 3 classes
  save_checkpoint(path("stale.safetensors"), *a, stale);
  EXPECT_EQ(model_name(read_checkpoint_meta(path("stale.safetensors")).model), "vgg11_bn");

  // Rebuild from the metadata alone, as `cxr predict` would, and load.
  auto b = make_model(got.model);
  const CheckpointMeta loaded = load_checkpoint(p, *b);
  EXPECT_EQ(loaded.classes, meta.classes);
  EXPECT_TRUE(differing(snapshot(*a), snapshot(*b)).empty());
  const Tensor x = random_input({2, 1, 32, 32}, 3);
  EXPECT_TRUE(bits_equal(run(*a, x), run(*b, x)));

  // The plain keys, for people reading the header.
  SafeTensorsHeader h = read_safetensors_header(p);
  EXPECT_EQ(h.metadata.at("arch"), "vgg11_bn");
  EXPECT_EQ(json::parse(h.metadata.at("classes")), json({"COVID19", "NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(h.metadata.at("input_size"), "32");
  EXPECT_EQ(h.metadata.at("parameter_count"), std::to_string(a->parameter_count()));
}

TEST_F(CheckpointTest, SavingIsDeterministic) {
  auto a = tiny_net(1);
  CheckpointMeta meta;
  meta.classes = {"a", "b", "c"};
  save_checkpoint(path("1.safetensors"), *a, meta);
  save_checkpoint(path("2.safetensors"), *a, meta);
  std::ifstream f1(path("1.safetensors"), std::ios::binary), f2(path("2.safetensors"), std::ios::binary);
  std::string s1((std::istreambuf_iterator<char>(f1)), {}), s2((std::istreambuf_iterator<char>(f2)), {});
  EXPECT_FALSE(s1.empty());
  EXPECT_EQ(s1, s2);
}

// ---- strict and non-strict loading ---------------------------------------------------------------------

TEST_F(CheckpointTest, ShapeMismatchListsNamesAndShapesAndChangesNothing) {
  auto five = tiny_net(1, 5);
  const std::string p = path("five.safetensors");
  save_checkpoint(p, *five, {});
  auto three = tiny_net(2, 3);
  const auto before = snapshot(*three);
  const std::string msg = error_of([&] { load_checkpoint(p, *three); });
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("5.weight: checkpoint [5, 64] vs model [3, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5.bias: checkpoint [5] vs model [3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("only the output layer 5 differs: a model for another number of classes"), std::string::npos)
      << msg;
  EXPECT_TRUE(differing(before, snapshot(*three)).empty()) << "a failed load must not touch the model";
  // A grey model's weights into an RGB one: the first convolution's input channels, said as such.
  auto net_for = [](int in_channels) {
    Rng rng(4);
    auto net = std::make_shared<Sequential>();
    net->add(std::make_shared<Conv2d>(in_channels, 4, 3, 1, 1, true, rng));
    net->add(std::make_shared<Flatten>());
    net->add(std::make_shared<Linear>(4 * 8 * 8, 3, rng));
    return net;
  };
  save_checkpoint(path("grey.safetensors"), *net_for(1), {});
  auto rgb = net_for(3);
  const std::string channels = error_of([&] { load_checkpoint(path("grey.safetensors"), *rgb); });
  EXPECT_NE(channels.find("only the input channels differ (1 in the file, 3 in the model)"), std::string::npos)
      << channels;
  EXPECT_EQ(channels.find("output layer"), std::string::npos) << channels;
  // Non-strict does not excuse a shape mismatch (as in PyTorch).
  EXPECT_THROW(load_checkpoint(p, *three, non_strict()), Error);
  EXPECT_TRUE(differing(before, snapshot(*three)).empty());
}

TEST_F(CheckpointTest, SkipPrefixesFineTunesANewHead) {
  auto five = tiny_net(1, 5);
  train_a_little(*five, {2, 2, 8, 8}, 2);
  const std::string p = path("five.safetensors");
  save_checkpoint(p, *five, {});
  auto three = tiny_net(2, 3);
  const auto before = snapshot(*three);
  LoadReport r;
  load_checkpoint(p, *three, {.strict = true, .skip_prefixes = {"5."}}, &r);
  EXPECT_EQ(r.skipped, (std::vector<std::string>{"5.weight", "5.bias"}));
  EXPECT_EQ(r.loaded.size(), 7u);
  const auto after = snapshot(*three), src = snapshot(*five);
  EXPECT_TRUE(bits_equal(after.at("5.weight"), before.at("5.weight"))) << "the skipped head keeps its values";
  for (const char* n : {"0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var", "1.num_batches_tracked"})
    EXPECT_TRUE(bits_equal(after.at(n), src.at(n))) << n;
}

TEST_F(CheckpointTest, MissingAndUnexpectedNames) {
  // Checkpoint without batch norm; model with: the bn tensors are missing, and the linear is at another index.
  Rng rng(1);
  auto plain = std::make_shared<Sequential>();
  plain->add(std::make_shared<Conv2d>(2, 4, 3, 1, 1, true, rng));
  plain->add(std::make_shared<ReLU>());
  plain->add(std::make_shared<Linear>(8, 3, rng));
  const std::string p = path("plain.safetensors");
  save_checkpoint(p, *plain, {});
  auto bn = tiny_net(2);
  const auto before = snapshot(*bn);
  const std::string msg = error_of([&] { load_checkpoint(p, *bn); });
  EXPECT_NE(msg.find("missing from checkpoint (7)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1.running_var [4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("5.weight [3, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected in checkpoint (2): 2.bias [3], 2.weight [3, 8]"), std::string::npos) << msg;
  EXPECT_TRUE(differing(before, snapshot(*bn)).empty());

  // Non-strict: the conv loads, the rest is reported.
  LoadReport r;
  load_checkpoint(p, *bn, non_strict(), &r);
  EXPECT_EQ(r.loaded, (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_EQ(r.missing.size(), 7u);
  EXPECT_EQ(r.unexpected, (std::vector<std::string>{"2.bias", "2.weight"}));
  EXPECT_TRUE(bits_equal(snapshot(*bn).at("0.weight"), snapshot(*plain).at("0.weight")));
}

TEST_F(CheckpointTest, CorruptFileLeavesTheModelUnchanged) {
  auto a = tiny_net(1);
  const std::string p = path("a.safetensors");
  save_checkpoint(p, *a, {});
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto b = tiny_net(2);
  const auto before = snapshot(*b);
  for (size_t cut : {size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 4}) {
    const std::string q = path("cut.safetensors");
    std::ofstream(q, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    const std::string msg = error_of([&] { load_checkpoint(q, *b); });
    EXPECT_NE(msg.find(q), std::string::npos) << "cut at " << cut << ": " << msg;
    EXPECT_TRUE(differing(before, snapshot(*b)).empty()) << "cut at " << cut;
  }
}

// PyTorch's layout: num_batches_tracked an int64 scalar. Also a [1] float one (older or hand-made files).
TEST_F(CheckpointTest, LoadsTorchStyleBatchCounters) {
  auto a = tiny_net(1);
  std::vector<NamedTensor> tensors;
  for (auto& [n, t] : snapshot(*a)) {
    if (n == "1.num_batches_tracked") continue;
    tensors.push_back({n, t, DType::F32, {}});
  }
  auto with = [&](NamedTensor counter) {
    auto all = tensors;
    all.push_back(std::move(counter));
    const std::string p = path("torch.safetensors");
    save_safetensors(p, all);
    auto b = tiny_net(2);
    const CheckpointMeta m = load_checkpoint(p, *b);
    EXPECT_FALSE(m.found) << "no cxr metadata in this file";
    return dynamic_cast<BatchNorm2d&>(b->at(1)).num_batches_tracked[0];
  };
  EXPECT_EQ(with({"1.num_batches_tracked", Tensor::from({0}, {}), DType::I64, {120}}), 120.0f);
  EXPECT_EQ(with({"1.num_batches_tracked", Tensor::from({7}, {1}), DType::F32, {}}), 7.0f);
  // Only the counter gets this leniency: a [1] vs [] mismatch elsewhere is still an error.
  auto c = tiny_net(3);
  std::vector<NamedTensor> bad = tensors;
  bad.push_back({"1.num_batches_tracked", Tensor::from({0}, {}), DType::I64, {}});
  for (auto& t : bad)
    if (t.name == "0.bias") t.value = Tensor::zeros({4, 1});
  save_safetensors(path("bad.safetensors"), bad);
  EXPECT_NE(error_of([&] { load_checkpoint(path("bad.safetensors"), *c); }).find("0.bias: checkpoint [4, 1] vs model [4]"),
            std::string::npos);
}

// ---- metadata errors -----------------------------------------------------------------------------------

TEST_F(CheckpointTest, BadMetadataIsAnErrorNamingTheFile) {
  auto a = tiny_net(1);
  std::vector<NamedTensor> tensors;
  for (auto& [n, t] : snapshot(*a)) tensors.push_back({n, t, DType::F32, {}});
  struct Case {
    std::string cxr, phrase;
  };
  for (const Case& c : std::vector<Case>{{"{not json", "not valid JSON"},
                                         {R"({"epoch": "seven"})", "epoch"},
                                         {R"({"model": {"arch": "resnet"}})", "unknown arch"},
                                         {R"({"classes": ["a", "b"]})", "2 class names"},
                                         {R"({"mean": [0.5], "std": []})", "standard deviations"},
                                         {"[1]", "JSON object"},
                                         {R"({"extra":)" + std::string(100000, '[') + std::string(100000, ']') + "}",
                                          "nested more than 64 levels"}}) {
    const std::string p = path("meta.safetensors");
    save_safetensors(p, tensors, {{"cxr", c.cxr}});
    auto b = tiny_net(2);
    const auto before = snapshot(*b);
    const std::string msg = error_of([&] { load_checkpoint(p, *b); });
    EXPECT_NE(msg.find(p), std::string::npos) << c.cxr << ": " << msg;
    EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.cxr << ": " << msg;
    EXPECT_TRUE(differing(before, snapshot(*b)).empty());
    EXPECT_THROW(read_checkpoint_meta(p), Error);
  }
  CheckpointMeta m;
  m.classes = {"only", "two"};  // the default config has 3 classes
  EXPECT_NE(error_of([&] { save_checkpoint(path("x.safetensors"), *a, m); }).find("2 class names"), std::string::npos);
}

// Metadata that does not describe the file's weights is refused before the model it names is built: at the
// largest width the config allows (8) VGG-11 would take gigabytes, allocated before the load found every
// shape wrong.
TEST_F(CheckpointTest, MetadataThatDoesNotDescribeTheWeightsIsRefusedBeforeTheModelIsBuilt) {
  auto a = make_model(small_vgg("vgg11_bn", 3, 5));
  CheckpointMeta meta;
  meta.model = a->config();
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string good = path("good.safetensors");
  save_checkpoint(good, *a, meta);
  EXPECT_EQ(load_model_file(good).meta.model.width, 0.0625f);  // the untouched file loads
  const SafeTensors st = load_safetensors(good);
  struct Case {
    const char* key;
    json value;
    const char* phrase;
  };
  for (const Case& c : std::vector<Case>{{"width", 4.0, "features.0.weight is [256, 1, 3, 3]"},
                                         {"in_channels", 3, "features.0.weight is [4, 3, 3, 3]"},
                                         {"num_classes", 4, "4 classes but the last classifier weight is [3, 256]"}}) {
    json cxr = json::parse(st.metadata.at("cxr"));
    cxr["model"][c.key] = c.value;
    if (std::string(c.key) == "num_classes") cxr["classes"] = {"a", "b", "c", "d"};
    std::map<std::string, std::string> md = st.metadata;
    md["cxr"] = cxr.dump();
    const std::string p = path(std::string("bad_") + c.key + ".safetensors");
    save_safetensors(p, st.tensors, md);
    const std::string msg = error_of([&] { load_model_file(p); });
    EXPECT_NE(msg.find(p), std::string::npos) << c.key << ": " << msg;
    EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.key << ": " << msg;
    EXPECT_NE(msg.find("the metadata does not describe these weights"), std::string::npos) << c.key << ": " << msg;
  }
}

// ---- describing without a model ------------------------------------------------------------------------

TEST_F(CheckpointTest, InfoAndDescribeReadOnlyTheHeader) {
  auto a = make_model(small_vgg("vgg11_bn", 3, 5));
  CheckpointMeta meta;
  meta.model = a->config();
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  meta.epoch = 3;
  meta.metrics = {{"val_accuracy", 0.5}};
  const std::string p = path("vgg.safetensors");
  save_checkpoint(p, *a, meta);
  const CheckpointInfo info = read_checkpoint_info(p);
  EXPECT_TRUE(info.has_meta);
  EXPECT_EQ(info.file_bytes, fs::file_size(p));
  EXPECT_EQ(info.parameter_count, a->parameter_count());
  int64_t buffers = 0, count = 0;
  for (auto& [n, t] : a->named_buffers()) buffers += t->numel();
  count = static_cast<int64_t>(a->named_parameters().size() + a->named_buffers().size());
  EXPECT_EQ(info.buffer_count, buffers);
  EXPECT_EQ(info.tensor_count, count);
  EXPECT_EQ(info.dtypes.at("I64"), 8);  // vgg11_bn has 8 batch norms
  EXPECT_EQ(info.dtypes.at("F32"), count - 8);
  const std::string d = describe_checkpoint(p);
  for (const std::string& s : {p, std::string("vgg11_bn"), std::string("0=COVID19, 1=NORMAL, 2=PNEUMONIA"),
                              std::string("1 x 32 x 32"), std::string("epoch 3"), std::string("val_accuracy = 0.5"),
                              std::to_string(a->parameter_count())})
    EXPECT_NE(d.find(s), std::string::npos) << "'" << s << "' not in:\n" << d;

  // A file with no cxr metadata (e.g. converted torchvision weights) is described too.
  save_safetensors(path("plain.safetensors"), {{"w", Tensor::zeros({2, 3}), DType::F32, {}}});
  const CheckpointInfo plain = read_checkpoint_info(path("plain.safetensors"));
  EXPECT_FALSE(plain.has_meta);
  EXPECT_EQ(plain.parameter_count, 6);
  EXPECT_NE(describe_checkpoint(path("plain.safetensors")).find("unknown"), std::string::npos);
}

// ---- optimizer state -----------------------------------------------------------------------------------

// Trains `net` one step on a fixed batch with `opt`.
static void sgd_step(Module& net, Optimizer& opt, uint64_t seed) {
  net.train();
  Variable y = net(Variable(random_input({2, 2, 8, 8}, seed)));
  Variable loss = sum(mul(y, y));
  opt.zero_grad();
  loss.backward();
  opt.step();
}

TEST_F(CheckpointTest, OptimizerStateResumesTrainingExactly) {
  // Train a few steps, save model + optimizer; continue; then restore both into fresh objects and continue
  // the same way: the results must be identical bit for bit (momentum buffers, step count, lr restored).
  for (const std::string kind : {"SGD", "Adam"}) {
    auto make = [&](Module& net) -> std::unique_ptr<Optimizer> {
      if (kind == "SGD") return std::make_unique<SGD>(net.named_parameters(), 0.01f, SGDOptions{.momentum = 0.9f});
      return std::make_unique<Adam>(net.named_parameters(), 1e-3f);
    };
    auto a = tiny_net(1);
    auto opt_a = make(*a);
    for (int s = 0; s < 3; ++s) sgd_step(*a, *opt_a, s);
    opt_a->set_lr(opt_a->lr() * 0.5f);  // as a schedule would
    save_checkpoint(path("m.safetensors"), *a, {});
    save_optimizer_state(path("o.safetensors"), *opt_a);
    sgd_step(*a, *opt_a, 10);

    auto b = tiny_net(2);
    auto opt_b = make(*b);
    load_checkpoint(path("m.safetensors"), *b);
    const OptimizerState s = load_optimizer_state(path("o.safetensors"), *opt_b);
    EXPECT_EQ(s.type, kind);
    // `cxr info` says what the file is, not "weights of unknown origin".
    const std::string d = describe_checkpoint(path("o.safetensors"));
    EXPECT_NE(d.find("optimizer state (" + kind + ") of a cxr training run"), std::string::npos) << d;
    EXPECT_EQ(d.find("unknown"), std::string::npos) << d;
    EXPECT_EQ(s.step, 3);
    EXPECT_EQ(opt_b->step_count(), 3);
    EXPECT_EQ(opt_b->lr(), opt_a->lr());
    EXPECT_EQ(s.tensors.size(), kind == "SGD" ? 6u : 18u);
    sgd_step(*b, *opt_b, 10);
    EXPECT_TRUE(differing(snapshot(*a), snapshot(*b)).empty()) << kind;
  }
}

TEST_F(CheckpointTest, OptimizerStateOfAnotherKindIsRefusedAndChangesNothing) {
  auto net = tiny_net(1);
  SGD sgd(net->named_parameters(), 0.1f, SGDOptions{.momentum = 0.9f});
  sgd_step(*net, sgd, 1);
  save_optimizer_state(path("sgd.safetensors"), sgd);
  Adam adam(net->named_parameters(), 1e-3f);
  sgd_step(*net, adam, 2);
  const Tensor m = adam.named_state()[0].second->clone();
  const std::string msg = error_of([&] { load_optimizer_state(path("sgd.safetensors"), adam); });
  EXPECT_NE(msg.find("SGD, not Adam"), std::string::npos) << msg;
  EXPECT_EQ(adam.step_count(), 1);
  EXPECT_TRUE(bits_equal(*adam.named_state()[0].second, m));

  // State for parameters the optimizer does not have: refused, and the previous state restored.
  OptimizerState bad = optimizer_state(adam);
  bad.tensors["no.such.param.exp_avg"] = Tensor::zeros({3});
  bad.step = 99;
  save_optimizer_state(path("bad.safetensors"), bad);
  EXPECT_NE(error_of([&] { load_optimizer_state(path("bad.safetensors"), adam); }).find("no.such.param"),
            std::string::npos);
  EXPECT_EQ(adam.step_count(), 1);
  ASSERT_EQ(adam.named_state().size(), 18u);
  EXPECT_TRUE(bits_equal(*adam.named_state()[0].second, m));

  // A model checkpoint is not an optimizer state file.
  save_checkpoint(path("model.safetensors"), *net, {});
  EXPECT_NE(error_of([&] { load_optimizer_state(path("model.safetensors")); }).find("not a cxr optimizer state"),
            std::string::npos);
}
