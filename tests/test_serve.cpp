// cxr serve's API, in process: a tiny VGG-11-BN at 64 px behind a Server on an ephemeral port of 127.0.0.1,
// driven by httplib::Client. Answers are checked against the explain library called directly on the same
// image (the cached, resumed passes must give what one uncached explain_batch gives), the malformed requests
// against their statuses, and after each the server must still answer.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/synth.h"
#include "explain/cam.h"
#include "explain/npy.h"
#include "image/image.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "layers/loss.h"
#include "models/model.h"
#include "tiny_model.h"
#include "serve/server.h"

using namespace cxr;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Fixture {
  fs::path root;
  std::string checkpoint, data;
  std::vector<std::string> pngs;  // a few test images' bytes
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.root = fs::temp_directory_path() / ("cxr_serve_" + std::to_string(::getpid()));
    fs::remove_all(x.root);
    fs::create_directories(x.root);
    data::SynthOptions so;
    so.size = 64;
    so.seed = 5;
    so.train = 0;
    so.val = 0;
    so.test = 3;
    x.data = (x.root / "data").string();
    data::write_dataset(so, x.data);
    const ModelConfig mc = cxr::test::tiny_vgg11_config(2);
    io::CheckpointMeta meta;
    meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
    x.checkpoint = (x.root / "tiny.safetensors").string();
    io::save_checkpoint(x.checkpoint, *make_model(mc), meta);
    for (const auto& s : data::open_dataset(x.data).samples) {
      std::ifstream in(s.path, std::ios::binary);
      x.pngs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (x.pngs.size() == 8) break;
    }
    return x;
  }();
  return f;
}

// A server in a thread of this process; stopped and joined by the destructor.
struct Running {
  io::LoadedModel reference;  // a second copy of the model, for the expected answers
  std::unique_ptr<serve::Explorer> explorer;
  std::unique_ptr<serve::Server> server;
  std::thread thread;
  int port = 0;
  explicit Running(serve::ServerOptions so = {}, size_t cache = 32) {
    Fixture& f = fixture();
    reference = io::load_model_file(f.checkpoint);
    serve::ExplorerOptions eo;
    eo.cache_images = cache;
    eo.faithfulness.steps = 4;
    explorer = std::make_unique<serve::Explorer>(io::load_model_file(f.checkpoint), eo);
    so.host = "127.0.0.1";
    so.port = 0;
    server = std::make_unique<serve::Server>(*explorer, so, data::open_dataset(f.data, {{"COVID19", "NORMAL", "PNEUMONIA"}}));
    port = server->bind();
    thread = std::thread([this] { server->listen(); });
  }
  ~Running() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30);
    return c;
  }
  // [1, C, S, S] as the server preprocesses the bytes.
  Tensor input(const std::string& bytes) const {
    const auto img = image::decode_image({bytes.begin(), bytes.end()}, "t");
    const ModelConfig& c = reference.model->config();
    Tensor x = data::preprocess_image(img.pixels, c.input_size, c.in_channels, reference.norm);
    return x.reshape({1, x.size(0), x.size(1), x.size(2)});
  }
  Explanation expected(const std::string& bytes, CamMethod m, const std::string& layer, int cls, bool cf = false) {
    ExplainRequest r;
    r.method = m;
    if (!layer.empty()) r.layers = {layer};
    r.classes = {cls};
    r.counterfactual = cf;
    r.class_names = reference.meta.classes;
    return explain_batch(*reference.model, input(bytes), r)[0][0];
  }
};

json body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

std::string predict(const Running& s, const std::string& bytes) {
  auto r = s.client().Post("/api/predict", bytes, "image/png");
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  return body(r).value("id", "");
}

void expect_alive(const Running& s) {
  auto r = s.client().Get("/api/info");
  ASSERT_TRUE(r) << "the server stopped answering";
  EXPECT_EQ(r->status, 200);
}

}  // namespace

TEST(Serve, SameTokenComparesWholeStrings) {
  EXPECT_TRUE(serve::same_token("abc", "abc"));
  EXPECT_FALSE(serve::same_token("abd", "abc"));
  EXPECT_FALSE(serve::same_token("ab", "abc"));
  EXPECT_FALSE(serve::same_token("abcd", "abc"));
  EXPECT_FALSE(serve::same_token("", "abc"));
}

TEST(Serve, InfoLayersMethodsAndPage) {
  Running s;
  auto c = s.client();
  json info = body(c.Get("/api/info"));
  EXPECT_EQ(info["classes"], json({"COVID19", "NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(info["input_size"], 64);
  EXPECT_EQ(info["model"], "vgg11_bn");
  EXPECT_EQ(info["data"]["images"], 9);
  json layers = body(c.Get("/api/layers"))["layers"];
  size_t spatial = 0;
  for (const LayerRef& l : s.reference.model->layers()) spatial += l.section == "features" || l.section == "avgpool";
  EXPECT_EQ(layers.size(), spatial);
  int defaults = 0;
  for (const json& l : layers) defaults += l["default"].get<bool>();
  EXPECT_EQ(defaults, 1);
  json methods = body(c.Get("/api/methods"));
  EXPECT_EQ(methods["methods"].size(), method_names().size());
  json maps = body(c.Get("/api/colormaps"))["colormaps"];
  ASSERT_EQ(maps["gray"].size(), 768u);
  EXPECT_EQ(maps["gray"][0], 0);
  EXPECT_EQ(maps["gray"][767], 255);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("<canvas"), std::string::npos);
  EXPECT_EQ(c.Get("/app.js")->status, 200);
  EXPECT_EQ(c.Get("/app.css")->status, 200);
}

TEST(Serve, PredictAndExplainMatchTheLibrary) {
  Running s;
  const std::string& png = fixture().pngs[0];
  auto r = s.client().Post("/api/predict", png, "image/png");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");
  const json p = body(r);
  const Tensor probs = softmax(s.reference.model->forward(Variable(s.input(png))).data());
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(p["probabilities"][s.reference.meta.classes[k]].get<float>(), probs[k], 1e-5);
  const std::string id = p["id"];
  struct Case { CamMethod m; std::string layer; int cls; bool cf; };
  for (const Case& k : {Case{CamMethod::GradCAM, "", 0, false}, Case{CamMethod::GradCAMPlusPlus, "relu3_2", 2, false},
                        Case{CamMethod::LayerCAM, "features.10", 1, true}, Case{CamMethod::EigenCAM, "pool2", 1, false},
                        Case{CamMethod::Guided, "", 0, false}, Case{CamMethod::ScoreCAM, "relu4_2", 1, false},
                        Case{CamMethod::AblationCAM, "relu3_2", 2, false}}) {
    SCOPED_TRACE(method_name(k.m) + std::string(" ") + k.layer);
    httplib::Params q = {{"image", id}, {"method", method_name(k.m)}, {"layer", k.layer},
                         {"class", std::to_string(k.cls)}, {"counterfactual", k.cf ? "true" : "false"}};
    auto e = s.client().Get("/api/explain", q, httplib::Headers{});
    ASSERT_TRUE(e && e->status == 200) << (e ? e->body : "");
    const json j = body(e);
    const Explanation want = s.expected(png, k.m, k.layer, k.cls, k.cf);
    EXPECT_EQ(j["class_index"], k.cls);
    EXPECT_EQ(j["layer"], want.layer);
    EXPECT_EQ(j["degenerate"], want.degenerate);
    ASSERT_EQ(j["map"]["data"].size(), static_cast<size_t>(want.map.numel()));
    for (int64_t i = 0; i < want.map.numel(); ++i) EXPECT_NEAR(j["map"]["data"][i].get<double>(), want.map[i], 2e-4) << i;
    // The raw map as .npy: the signed values, exactly the library's up to float rounding.
    q.emplace("format", "npy");
    auto n = s.client().Get("/api/explain", q, httplib::Headers{});
    ASSERT_TRUE(n && n->status == 200);
    const Tensor raw = decode_npy(n->body, "answer");
    ASSERT_EQ(raw.shape(), want.raw.shape());
    for (int64_t i = 0; i < raw.numel(); ++i) EXPECT_NEAR(raw[i], want.raw[i], 1e-4f * (1 + std::fabs(want.raw[i])));
  }
  // The overlay as PNG, at the original's size.
  auto o = s.client().Post("/api/explain?format=png&alpha=0.7&colormap=turbo", png, "image/png");
  ASSERT_TRUE(o && o->status == 200) << (o ? o->body : "");
  const image::Image img = image::decode_image({o->body.begin(), o->body.end()}, "overlay");
  EXPECT_EQ(img.width(), 64);
  EXPECT_EQ(img.channels(), 3);
  // JSON parameters in a POST body.
  auto jp = s.client().Post("/api/explain", json{{"image", id}, {"method", "xgradcam"}, {"class", "NORMAL"}}.dump(),
                            "application/json");
  ASSERT_TRUE(jp && jp->status == 200) << (jp ? jp->body : "");
  EXPECT_EQ(body(jp)["class"], "NORMAL");
}

// One forward per image: switching class, method or layer never repeats it (counted by the explorer).
TEST(Serve, CachedForwardIsReused) {
  Running s;
  const std::string id = predict(s, fixture().pngs[1]);
  auto counters = [&] { return body(s.client().Get("/api/info"))["counters"]; };
  EXPECT_EQ(counters()["full_passes"], 1);
  for (const char* m : {"gradcam", "gradcam++", "hirescam", "eigencam"})
    for (const char* cls : {"0", "1", "2"})
      ASSERT_EQ(s.client().Get("/api/explain", httplib::Params{{"image", id}, {"method", m}, {"class", cls}}, httplib::Headers{})->status, 200);
  json k = counters();
  EXPECT_EQ(k["full_passes"], 1);
  EXPECT_EQ(k["resumed_passes"], 1);  // the default layer, once, for every class and method
  EXPECT_EQ(k["fusions"], 12);
  ASSERT_EQ(s.client().Get("/api/explain", httplib::Params{{"image", id}, {"layer", "relu2_1"}}, httplib::Headers{})->status, 200);
  EXPECT_EQ(counters()["resumed_passes"], 2);
  EXPECT_EQ(counters()["full_passes"], 1);
  auto again = s.client().Post("/api/predict", fixture().pngs[1], "image/png");
  EXPECT_TRUE(body(again)["cached"].get<bool>());
  EXPECT_EQ(counters()["full_passes"], 1);
}

TEST(Serve, CacheIsBoundedLeastRecentlyUsed) {
  Running s({}, /*cache=*/2);
  const std::string a = predict(s, fixture().pngs[0]), b = predict(s, fixture().pngs[1]);
  predict(s, fixture().pngs[0]);                               // a is now the most recent
  const std::string c = predict(s, fixture().pngs[2]);         // b goes
  EXPECT_EQ(s.client().Get("/api/explain", httplib::Params{{"image", a}}, httplib::Headers{})->status, 200);
  EXPECT_EQ(s.client().Get("/api/explain", httplib::Params{{"image", c}}, httplib::Headers{})->status, 200);
  auto gone = s.client().Get("/api/explain", httplib::Params{{"image", b}}, httplib::Headers{});
  EXPECT_EQ(gone->status, 404);
  EXPECT_EQ(body(s.client().Get("/api/info"))["counters"]["evictions"], 1);
}

TEST(Serve, MalformedRequestsGetClearErrors) {
  serve::ServerOptions so;
  so.max_upload_bytes = 1 << 20;
  Running s(so);
  const std::string& png = fixture().pngs[0];
  const std::string id = predict(s, png);
  struct Bad { std::string what; std::function<httplib::Result(httplib::Client&)> send; int status; };
  const std::vector<Bad> bad = {
      {"bad JSON", [&](httplib::Client& c) { return c.Post("/api/explain", "{\"image\": ", "application/json"); }, 400},
      {"JSON not an object", [&](httplib::Client& c) { return c.Post("/api/explain", "[1, 2]", "application/json"); }, 400},
      {"wrong content type", [&](httplib::Client& c) { return c.Post("/api/predict", png, "text/plain"); }, 415},
      {"not an image", [&](httplib::Client& c) { return c.Post("/api/predict", std::string(500, 'x'), "image/png"); }, 415},
      {"empty body", [&](httplib::Client& c) { return c.Post("/api/predict", "", "image/png"); }, 400},
      {"truncated PNG", [&](httplib::Client& c) { return c.Post("/api/predict", png.substr(0, png.size() / 2), "image/png"); }, 422},
      {"huge upload", [&](httplib::Client& c) { return c.Post("/api/predict", std::string(2 << 20, '\x89'), "image/png"); }, 413},
      {"over-limit header", [&](httplib::Client& c) { return c.Get("/api/info", httplib::Headers{{"X-Long", std::string(20000, 'a')}}); }, 400},
      {"traversal", [&](httplib::Client& c) { return c.Get("/api/images/../../etc/passwd"); }, 404},
      {"encoded traversal", [&](httplib::Client& c) { return c.Get("/..%2f..%2fetc%2fpasswd"); }, 404},
      {"no such index", [&](httplib::Client& c) { return c.Get("/api/images/99999"); }, 404},
      {"index not a number", [&](httplib::Client& c) { return c.Get("/api/images/abc"); }, 404},
      {"unknown method", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"method", "magic"}}, httplib::Headers{}); }, 400},
      {"unknown layer", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"layer", "conv9_9"}}, httplib::Headers{}); }, 400},
      {"class out of range", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"class", "7"}}, httplib::Headers{}); }, 400},
      {"counterfactual eigencam", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"method", "eigencam"}, {"counterfactual", "1"}}, httplib::Headers{}); }, 400},
      {"unknown image", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", "0123456789abcdef"}}, httplib::Headers{}); }, 404},
      {"no image named", [&](httplib::Client& c) { return c.Get("/api/explain"); }, 400},
      {"bad format", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"format", "gif"}}, httplib::Headers{}); }, 400},
      {"bad alpha", [&](httplib::Client& c) { return c.Get("/api/explain", httplib::Params{{"image", id}, {"format", "png"}, {"alpha", "2"}}, httplib::Headers{}); }, 400},
      {"bad filter", [&](httplib::Client& c) { return c.Get("/api/images?correct=maybe"); }, 400},
      {"unknown path", [&](httplib::Client& c) { return c.Get("/etc/passwd"); }, 404},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.what);
    auto c = s.client();
    auto r = b.send(c);
    ASSERT_TRUE(r) << "no answer";
    EXPECT_EQ(r->status, b.status) << r->body;
    const json j = body(r);  // every error says why, in JSON
    EXPECT_TRUE(j.is_object() && j.contains("error")) << r->body;
    expect_alive(s);
  }
}

// 8 threads x 10 requests at once, mixed uploads and explanations: every answer right, none lost.
TEST(Serve, ConcurrentBurst) {
  Running s;
  const auto& pngs = fixture().pngs;
  std::vector<json> want;
  for (const std::string& p : pngs) want.push_back(body(s.client().Post("/api/predict", p, "image/png")));
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      auto c = s.client();
      for (int i = 0; i < 10; ++i) {
        const size_t k = static_cast<size_t>(t + i) % pngs.size();
        if (i % 2 == 0) {
          auto r = c.Post("/api/predict", pngs[k], "image/png");
          const bool good = r && r->status == 200 && body(r)["probabilities"] == want[k]["probabilities"];
          ++(good ? ok : wrong);
        } else {
          auto r = c.Get("/api/explain", httplib::Params{{"image", want[k]["id"].get<std::string>()}, {"class", std::to_string(i % 3)}}, httplib::Headers{});
          const bool good = r && r->status == 200 && body(r)["class_index"] == i % 3;
          ++(good ? ok : wrong);
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 80);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(body(s.client().Get("/api/info"))["counters"]["full_passes"], static_cast<int>(pngs.size()));
}

TEST(Serve, TokenRequiredWhenSet) {
  serve::ServerOptions so;
  so.token = "s3cret-token";
  Running s(so);
  auto c = s.client();
  EXPECT_EQ(c.Get("/api/info")->status, 401);
  EXPECT_EQ(c.Get("/")->status, 401);
  EXPECT_EQ(c.Get("/api/info?token=s3cret-tokeN")->status, 401);
  EXPECT_EQ(c.Post("/api/predict", fixture().pngs[0], "image/png")->status, 401);
  EXPECT_EQ(c.Get("/api/info?token=s3cret-token")->status, 200);
  EXPECT_EQ(c.Get("/api/info", httplib::Headers{{"Authorization", "Bearer s3cret-token"}})->status, 200);
  EXPECT_EQ(c.Get("/api/info", httplib::Headers{{"X-Cxr-Token", "s3cret-token"}})->status, 200);
  // The page links its parts with the token, so a browser given the address gets them too.
  auto page = c.Get("/?token=s3cret-token");
  ASSERT_TRUE(page && page->status == 200);
  EXPECT_NE(page->body.find("app.js?token=s3cret-token"), std::string::npos);
  EXPECT_EQ(c.Get("/app.js?token=s3cret-token")->status, 200);
  EXPECT_EQ(c.Get("/app.js")->status, 401);
}

TEST(Serve, DataListingFiltersAndMetrics) {
  Running s;
  const data::Dataset ds = data::open_dataset(fixture().data);
  json all = body(s.client().Get("/api/images"));
  EXPECT_EQ(all["total"], ds.size());
  EXPECT_EQ(all["matched"], ds.size());
  json covid = body(s.client().Get("/api/images?class=COVID19"));
  int64_t n = 0;
  for (const auto& smp : ds.samples) n += ds.class_names[static_cast<size_t>(smp.label)] == "COVID19";
  EXPECT_EQ(covid["matched"], n);
  for (const json& i : covid["images"]) EXPECT_EQ(i["label"], "COVID19");
  // right / wrong: predicted on the way; together they are every labelled image.
  json right = body(s.client().Get("/api/images?correct=yes")), wrong = body(s.client().Get("/api/images?correct=no"));
  EXPECT_EQ(right["matched"].get<int64_t>() + wrong["matched"].get<int64_t>(), ds.size());
  for (const json& i : right["images"]) EXPECT_EQ(i["predicted"], i["label"]);
  for (const json& i : wrong["images"]) EXPECT_NE(i["predicted"], i["label"]);
  // An image by index: its summary, its label, and its masks (the synthetic manifest has lung masks).
  json one = body(s.client().Get("/api/images/0"));
  EXPECT_EQ(one["sample"]["label"], ds.class_names[static_cast<size_t>(ds.samples[0].label)]);
  EXPECT_TRUE(one["masks"]["lung"].get<bool>());
  auto m = s.client().Get("/api/metrics", httplib::Params{{"image", one["id"].get<std::string>()}, {"method", "gradcam"}}, httplib::Headers{});
  ASSERT_TRUE(m && m->status == 200) << (m ? m->body : "");
  const json j = body(m);
  if (!j["degenerate"].get<bool>()) {
    ASSERT_TRUE(j["lung"].is_object()) << j.dump();  // measured in the lung mask
    const double energy = j["lung"]["energy"];
    EXPECT_GE(energy, 0.0);
    EXPECT_LE(energy, 1.0);
    const double del = j["faithfulness"]["deletion_auc"], ins = j["faithfulness"]["insertion_auc"];
    EXPECT_GE(del, 0.0);
    EXPECT_LE(del, 1.0);
    EXPECT_GE(ins, 0.0);
    EXPECT_LE(ins, 1.0);
    EXPECT_EQ(j["faithfulness"]["deletion"].size(), 5u);  // steps + 1
    EXPECT_TRUE(j["shortcut"].contains("flagged"));
  }
  auto orig = s.client().Get("/api/original", httplib::Params{{"image", one["id"].get<std::string>()}}, httplib::Headers{});
  ASSERT_TRUE(orig && orig->status == 200);
  EXPECT_EQ(image::decode_image({orig->body.begin(), orig->body.end()}, "o").width(), 64);
  // An upload has no masks.
  image::Image im = image::decode_image({fixture().pngs[2].begin(), fixture().pngs[2].end()}, "u");
  for (int64_t i = 0; i < im.pixels.numel(); ++i) im.pixels[i] *= 0.5f;  // new bytes, not a --data image
  const std::string up = predict(s, image::encode_png(im.pixels));
  EXPECT_TRUE(body(s.client().Get("/api/metrics", httplib::Params{{"image", up}}, httplib::Headers{}))["lung"].is_null());
}
