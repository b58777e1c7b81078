// Server: the routes of serve/server.h over cpp-httplib, and the checks every request passes first.
#include "serve/server.h"

#include "core/threading.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "explain/colormap.h"
#include "explain/npy.h"
#include "explain/overlay.h"
#include "image/image.h"
#include "serve/page.h"

namespace cxr::serve {

namespace {

using json = nlohmann::json;
using httplib::Request;
using httplib::Response;

// An error the request made, answered with `status`.
struct HttpError : Error {
  HttpError(int s, const std::string& m) : Error(m), status(s) {}
  int status;
};

void answer_error(Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(json{{"error", message}, {"status", status}}.dump(), "application/json");
}

void answer_json(Response& res, const json& j) { res.set_content(j.dump(), "application/json"); }

using Handler = std::function<void(const Request&, Response&)>;

// Every route's failures become JSON errors: the request's mistakes 4xx, ours 500.
Handler guarded(Handler h) {
  return [h = std::move(h)](const Request& req, Response& res) {
    adopt_num_threads();  // an httplib worker: our parallel loops (colormaps, PNG encoding) at --threads
    try {
      h(req, res);
    } catch (const HttpError& e) {
      answer_error(res, e.status, e.what());
    } catch (const InternalError& e) {
      answer_error(res, 500, e.what());
    } catch (const Error& e) {  // an unknown class, layer, method ... named by the request
      answer_error(res, 400, e.what());
    } catch (const std::exception& e) {
      answer_error(res, 500, std::string("internal error: ") + e.what());
    }
  };
}

std::string content_type(const Request& req) {
  std::string t = req.get_header_value("Content-Type");
  t = t.substr(0, t.find(';'));
  t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

bool is_image_type(const std::string& t) {
  return t == "image/png" || t == "image/jpeg" || t == "application/octet-stream";
}

// The bytes of an uploaded image, after the content-type and magic-byte checks.
std::vector<uint8_t> image_body(const Request& req) {
  const std::string t = content_type(req);
  if (!is_image_type(t))
    throw HttpError(415, "send the image's bytes as the body with Content-Type image/png, image/jpeg or "
                         "application/octet-stream (got '" + t + "')");
  const std::string& b = req.body;
  if (b.empty()) throw HttpError(400, "the body is empty: send the image's bytes");
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  const bool png = b.size() >= 8 && std::memcmp(u, "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = b.size() >= 3 && u[0] == 0xFF && u[1] == 0xD8 && u[2] == 0xFF;
  if (!png && !jpeg) throw HttpError(415, "the body is not a PNG or JPEG image (its first bytes say neither)");
  return {b.begin(), b.end()};
}

// The parameters of a request: the query string, and for a JSON body its fields (strings, numbers, booleans).
std::map<std::string, std::string> params_of(const Request& req) {
  std::map<std::string, std::string> p;
  for (const auto& [k, v] : req.params) p[k] = v;
  if (req.method == "POST" && content_type(req) == "application/json") {
    json j;
    try {
      j = json::parse(req.body);
    } catch (const json::exception& e) {
      throw HttpError(400, std::string("the body is not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw HttpError(400, "the JSON body must be an object of parameters");
    for (const auto& [k, v] : j.items()) {
      if (v.is_string()) p[k] = v.get<std::string>();
      else if (v.is_boolean()) p[k] = v.get<bool>() ? "true" : "false";
      else if (v.is_number_integer()) p[k] = std::to_string(v.get<int64_t>());
      else if (v.is_number()) p[k] = v.dump();
      else throw HttpError(400, "parameter '" + k + "' must be a string, a number or a boolean");
    }
  }
  return p;
}

std::string get(const std::map<std::string, std::string>& p, const std::string& k, const std::string& def = "") {
  auto it = p.find(k);
  return it == p.end() ? def : it->second;
}

bool flag(const std::map<std::string, std::string>& p, const std::string& k) {
  const std::string v = get(p, k, "false");
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
  throw HttpError(400, "parameter '" + k + "' must be true or false, got '" + v + "'");
}

// A whole number in [lo, hi], else a 400 naming the parameter.
int64_t number(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < lo || n > hi)
    throw HttpError(400, "parameter '" + name + "' must be a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi) + ", got '" + v + "'");
  return n;
}

json summary_json(const ImageSummary& s, const std::vector<std::string>& classes) {
  json probs = json::object();
  for (size_t c = 0; c < classes.size() && c < s.probabilities.size(); ++c) probs[classes[c]] = s.probabilities[c];
  return {{"id", s.id},
          {"width", s.width},
          {"height", s.height},
          {"channels", s.channels},
          {"probabilities", probs},
          {"predicted", classes.at(static_cast<size_t>(s.predicted))},
          {"predicted_index", s.predicted},
          {"cached", s.cached},
          {"masks", {{"lesion", s.lesion_mask}, {"lung", s.lung_mask}}}};
}

// Percent-encoding of everything but unreserved characters (RFC 3986), for a token in a URL.
std::string url_encode(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      o += static_cast<char>(c);
    } else {
      const char* hex = "0123456789ABCDEF";
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

// A float rounded to 4 decimals: what a map needs on a screen, and a third of the JSON.
double r4(float v) { return std::isfinite(v) ? std::round(static_cast<double>(v) * 1e4) / 1e4 : 0.0; }

}  // namespace

bool same_token(const std::string& presented, const std::string& expected) {
  // Every byte of `expected` is compared whatever the lengths, so the time says nothing about its contents.
  unsigned diff = presented.size() == expected.size() ? 0u : 1u;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= a ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

struct Server::Impl {
  Explorer& ex;
  ServerOptions opt;
  std::optional<data::Dataset> dataset;
  httplib::Server http;
  std::mutex predicted_mu;
  std::vector<int> predicted;  // per --data index: the predicted class, -1 while unknown (kept past the LRU)
  std::vector<std::string> index_ids;

  Impl(Explorer& e, ServerOptions o, std::optional<data::Dataset> d)
      : ex(e), opt(std::move(o)), dataset(std::move(d)) {
    if (dataset) {
      predicted.assign(dataset->samples.size(), -1);
      index_ids.assign(dataset->samples.size(), "");
    }
    setup();
  }

  const std::vector<std::string>& classes() const { return ex.model().meta.classes; }

  // --data image `i`: read from the path the dataset lists, added like an upload.
  ImageSummary add_indexed(size_t i) {
    const data::Sample& s = dataset->samples.at(i);
    std::ifstream in(s.path, std::ios::binary);
    if (!in) throw HttpError(422, s.path + ": cannot be read");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ImageSummary sum;
    try {
      sum = ex.add_image(bytes, s.path, {s.lesion_mask, s.lung_mask});
    } catch (const InternalError&) {
      throw;
    } catch (const Error& e) {
      throw HttpError(422, e.what());
    }
    std::lock_guard<std::mutex> lock(predicted_mu);
    predicted[i] = sum.predicted;
    index_ids[i] = sum.id;
    return sum;
  }

  size_t index_param(const std::string& v) {
    if (!dataset) throw HttpError(404, "no --data was given to the server: there are no images by index");
    const int64_t n = number("index", v, 0, 999'999'999);
    if (n >= static_cast<int64_t>(dataset->samples.size()))
      throw HttpError(404, "no image " + v + ": the data has " + std::to_string(dataset->samples.size()));
    return static_cast<size_t>(n);
  }

  json sample_json(size_t i) {
    const data::Sample& s = dataset->samples[i];
    json j = {{"index", i},
              {"file", std::filesystem::path(s.path).filename().string()},
              {"label", s.label >= 0 ? json(dataset->class_names[static_cast<size_t>(s.label)]) : json(nullptr)},
              {"source", s.source},
              {"split", s.split},
              {"masks", {{"lesion", !s.lesion_mask.empty()}, {"lung", !s.lung_mask.empty()}}}};
    std::lock_guard<std::mutex> lock(predicted_mu);
    if (predicted[i] >= 0) {
      const std::string p = classes().at(static_cast<size_t>(predicted[i]));
      j["predicted"] = p;
      if (s.label >= 0) j["correct"] = p == dataset->class_names[static_cast<size_t>(s.label)];
    }
    return j;
  }

  // The image a query names: image=<id> of a cached one, index=<n> of --data, or the POSTed bytes.
  std::string image_of(const Request& req, const std::map<std::string, std::string>& p) {
    if (req.method == "POST" && content_type(req) != "application/json") {
      try {
        return ex.add_image(image_body(req), "upload").id;
      } catch (const HttpError&) {
        throw;
      } catch (const InternalError&) {
        throw;
      } catch (const Error& e) {
        throw HttpError(422, e.what());
      }
    }
    if (p.count("index")) return add_indexed(index_param(get(p, "index"))).id;
    const std::string id = get(p, "image");
    if (id.empty()) throw HttpError(400, "name the image: image=<id from /api/predict> or index=<n of /api/images>");
    if (!ex.find(id)) throw HttpError(404, "no image with id '" + id + "' (never added, or dropped from the cache)");
    return id;
  }

  ExplainQuery query_of(const Request& req, const std::map<std::string, std::string>& p) {
    ExplainQuery q;
    q.image = image_of(req, p);
    q.method = parse_method(get(p, "method", "gradcam"));
    const std::string layer = get(p, "layer");
    if (!layer.empty() && q.method != CamMethod::Guided) q.layers = {layer};
    const std::vector<int> cls =
        parse_classes(get(p, "class", "pred"), classes(), static_cast<int>(classes().size()));
    if (cls.size() > 1) throw HttpError(400, "explain one class at a time (class=pred, a name or an index)");
    q.class_index = cls.empty() ? -1 : cls[0];
    q.counterfactual = flag(p, "counterfactual");
    q.fuse = parse_fuse(get(p, "fuse", "max"));
    return q;
  }

  void explain(const Request& req, Response& res) {
    const auto p = params_of(req);
    const ExplainQuery q = query_of(req, p);
    const std::string format = get(p, "format", "json");
    if (format != "json" && format != "npy" && format != "png")
      throw HttpError(400, "format must be json, npy or png, got '" + format + "'");
    const auto t0 = std::chrono::steady_clock::now();
    const Explanation e = ex.explain(q);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string stem = q.image + "_" + e.class_name + "_" + method_name(e.method);
    if (format == "npy") {
      res.set_header("Content-Disposition", "attachment; filename=\"" + stem + "_raw.npy\"");
      res.set_content(encode_npy(e.raw), "application/octet-stream");
      return;
    }
    if (format == "png") {
      OverlayStyle style;
      style.colormap = parse_colormap(get(p, "colormap", "jet"));
      const std::string a = get(p, "alpha", "0.5");
      try {
        size_t used = 0;
        style.alpha = std::stof(a, &used);
        if (used != a.size() || !(style.alpha >= 0.0f && style.alpha <= 1.0f)) throw std::invalid_argument(a);
      } catch (const std::exception&) {
        throw HttpError(400, "alpha must be a number from 0 to 1, got '" + a + "'");
      }
      const Tensor original = ex.original(q.image);
      if (!original.defined()) throw HttpError(404, "image '" + q.image + "' was dropped from the cache");
      res.set_header("Content-Disposition", "attachment; filename=\"" + stem + "_overlay.png\"");
      res.set_content(image::encode_png(render(e, original, style).overlay), "image/png");
      return;
    }
    const int64_t h = e.map.size(0), w = e.map.size(1);
    json data = json::array();
    for (int64_t i = 0; i < h * w; ++i) data.push_back(r4(e.map[i]));
    float lo = 0, hi = 0;
    if (e.raw.numel() > 0) {
      lo = *std::min_element(e.raw.data(), e.raw.data() + e.raw.numel());
      hi = *std::max_element(e.raw.data(), e.raw.data() + e.raw.numel());
    }
    json j = {{"image", q.image},
              {"class", e.class_name},
              {"class_index", e.class_index},
              {"probability", e.probability},
              {"score", e.score},
              {"method", method_name(e.method)},
              {"counterfactual", e.counterfactual},
              {"layer", e.layer},
              {"degenerate", e.degenerate},
              {"degenerate_reason", e.degenerate_reason},
              {"raw_shape", e.raw.shape()},
              {"raw_range", {lo, hi}},
              {"map", {{"height", h}, {"width", w}, {"data", data}}},
              {"seconds", seconds}};
    answer_json(res, j);
  }

  void images(const Request& req, Response& res) {
    if (!dataset) {
      answer_json(res, {{"count", 0}, {"total", 0}, {"images", json::array()}, {"data", nullptr}});
      return;
    }
    const auto p = params_of(req);
    const std::string cls = get(p, "class"), source = get(p, "source"), split = get(p, "split"),
                      correct = get(p, "correct");
    if (!correct.empty() && correct != "yes" && correct != "no")
      throw HttpError(400, "correct must be yes or no, got '" + correct + "'");
    const int label = cls.empty() ? -1 : dataset->class_index(cls);
    if (!cls.empty() && label < 0) throw HttpError(400, "no class '" + cls + "' in the data: " + join(dataset->class_names));
    const int64_t offset = number("offset", get(p, "offset", "0"), 0, 1'000'000'000);
    const int64_t limit = number("limit", get(p, "limit", "200"), 1, 1000);
    json list = json::array();
    int64_t matched = 0;
    for (size_t i = 0; i < dataset->samples.size(); ++i) {
      const data::Sample& s = dataset->samples[i];
      if ((label >= 0 && s.label != label) || (!source.empty() && s.source != source) ||
          (!split.empty() && s.split != split))
        continue;
      if (!correct.empty()) {  // right / wrong needs the prediction: made now for the images not seen yet
        if (s.label < 0) continue;
        int pred;
        {
          std::lock_guard<std::mutex> lock(predicted_mu);
          pred = predicted[i];
        }
        if (pred < 0) {
          try {
            pred = add_indexed(i).predicted;
          } catch (const HttpError&) {
            continue;  // an unreadable image is neither right nor wrong
          }
        }
        const bool right = classes().at(static_cast<size_t>(pred)) == dataset->class_names[static_cast<size_t>(s.label)];
        if (right != (correct == "yes")) continue;
      }
      if (matched++ >= offset && static_cast<int64_t>(list.size()) < limit) list.push_back(sample_json(i));
    }
    json sources = json::array();
    std::set<std::string> seen;
    for (const data::Sample& s : dataset->samples)
      if (!s.source.empty() && seen.insert(s.source).second) sources.push_back(s.source);
    answer_json(res, {{"count", list.size()},
                      {"matched", matched},
                      {"total", dataset->samples.size()},
                      {"offset", offset},
                      {"classes", dataset->class_names},
                      {"sources", sources},
                      {"images", list},
                      {"data", dataset->origin}});
  }

  json info() {
    const io::LoadedModel& lm = ex.model();
    const ModelConfig& c = lm.model->config();
    const Counters k = ex.counters();
    const image::DecodeLimits& lim = ex.options().limits;
    return {{"tool", "cxr serve"},
            {"model", lm.model->name()},
            {"checkpoint", std::filesystem::path(lm.path).filename().string()},
            {"checkpoint_sha256", opt.checkpoint_sha256},
            {"classes", classes()},
            {"input_size", c.input_size},
            {"in_channels", c.in_channels},
            {"data", dataset ? json{{"origin", dataset->origin}, {"images", dataset->samples.size()}} : json(nullptr)},
            {"limits",
             {{"max_upload_bytes", opt.max_upload_bytes},
              {"max_side", lim.max_side},
              {"max_pixels", lim.max_pixels},
              {"max_decoded_bytes", lim.max_bytes}}},
            {"cache_images", ex.options().cache_images},
            {"token_required", !opt.token.empty()},
            {"counters",
             {{"full_passes", k.full_passes},
              {"resumed_passes", k.resumed_passes},
              {"fusions", k.fusions},
              {"metric_runs", k.metric_runs},
              {"cache_hits", k.cache_hits},
              {"cache_misses", k.cache_misses},
              {"evictions", k.evictions}}}};
  }

  json layers() {
    json list = json::array();
    for (const LayerInfo& l : ex.layers())
      list.push_back({{"name", l.name},
                      {"alias", l.alias},
                      {"display", display_name(l)},
                      {"section", l.section},
                      {"default", l.position == ex.default_layer().position}});
    return {{"layers", list}, {"default", ex.default_layer().name}};
  }

  static json methods() {
    json list = json::array();
    for (const std::string& n : method_names()) {
      const CamMethod m = parse_method(n);
      const bool guided = m == CamMethod::Guided || m == CamMethod::GuidedGradCAM;
      list.push_back({{"name", n},
                      {"uses_gradients", uses_gradients(m)},
                      {"counterfactual", uses_gradients(m)},
                      {"class_dependent", m != CamMethod::EigenCAM},
                      {"takes_layer", m != CamMethod::Guided},
                      {"cost", guided                            ? "a full forward and backward"
                               : m == CamMethod::ScoreCAM    ? "one masked forward per channel"
                               : m == CamMethod::AblationCAM ? "one head forward per ablated channel (32 a batch)"
                                                             : "fusion of the cached pass"}});
    }
    return {{"methods", list}, {"colormaps", colormap_names()}, {"fuse", {"max", "sum"}}};
  }

  // 256 entries of each colormap (explain/colormap.h), as 8-bit RGB triples: the page colours maps with them.
  static json colormaps() {
    json all = json::object();
    for (const std::string& n : colormap_names()) {
      json lut = json::array();
      for (int i = 0; i < 256; ++i) {
        float rgb[3];
        colormap_rgb(parse_colormap(n), static_cast<float>(i) / 255.0f, rgb);
        for (float v : rgb) lut.push_back(static_cast<int>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)));
      }
      all[n] = lut;
    }
    return {{"colormaps", all}, {"entries", 256}};
  }

  bool token_ok(const Request& req) const {
    if (opt.token.empty()) return true;
    std::string t = req.get_header_value("X-Cxr-Token");
    const std::string auth = req.get_header_value("Authorization");
    if (t.empty() && auth.rfind("Bearer ", 0) == 0) t = auth.substr(7);
    if (t.empty()) t = req.get_param_value("token");
    return same_token(t, opt.token);
  }

  void setup() {
    http.new_task_queue = [n = std::max(1, opt.http_threads)] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
    http.set_payload_max_length(opt.max_upload_bytes);
    http.set_read_timeout(10);
    http.set_keep_alive_timeout(2);  // an idle browser connection holds a worker thread until then
    http.set_write_timeout(30);
    http.set_pre_routing_handler([this](const Request& req, Response& res) {
      if (token_ok(req)) return httplib::Server::HandlerResponse::Unhandled;
      answer_error(res, 401, "this server needs its token: header 'Authorization: Bearer <token>' or ?token=<token>");
      return httplib::Server::HandlerResponse::Handled;
    });
    // What httplib answers itself (413, 400 for a malformed request, 404 of no route) gets a JSON body too.
    http.set_error_handler([](const Request& req, Response& res) {
      if (!res.body.empty()) return;
      const int s = res.status;
      answer_error(res, s, s == 404   ? "no such path: " + req.path + " (the page is /, the API under /api)"
                           : s == 413 ? "the request body is larger than the server's upload limit"
                                      : "the request was refused (HTTP " + std::to_string(s) + ")");
    });
    http.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
      answer_error(res, 500, "internal error");
    });
    for (const Asset& a : page_assets()) {
      const bool index = a.path == std::string("/index.html");
      http.Get(index ? "/" : a.path, [this, &a, index](const Request&, Response& res) {
        std::string body(reinterpret_cast<const char*>(a.data), a.size);
        // With a token the page's own parts need it too: the page links them with it (the request that
        // got here carried the right one).
        if (index && !opt.token.empty())
          for (const char* part : {"app.css\"", "app.js\""}) {
            const std::string from = part, to = from.substr(0, from.size() - 1) + "?token=" + url_encode(opt.token) + "\"";
            if (const size_t at = body.find(from); at != std::string::npos) body.replace(at, from.size(), to);
          }
        res.set_content(body, a.content_type);
        res.set_header("Cache-Control", "no-store");
      });
    }
    http.Get("/api/info", guarded([this](const Request&, Response& res) { answer_json(res, info()); }));
    http.Get("/api/layers", guarded([this](const Request&, Response& res) { answer_json(res, layers()); }));
    http.Get("/api/methods", guarded([](const Request&, Response& res) { answer_json(res, methods()); }));
    http.Get("/api/colormaps", guarded([](const Request&, Response& res) { answer_json(res, colormaps()); }));
    http.Post("/api/predict", guarded([this](const Request& req, Response& res) {
                std::vector<uint8_t> bytes = image_body(req);
                try {
                  answer_json(res, summary_json(ex.add_image(bytes, "upload"), classes()));
                } catch (const InternalError&) {
                  throw;
                } catch (const Error& e) {
                  throw HttpError(422, e.what());
                }
              }));
    http.Get("/api/explain", guarded([this](const Request& req, Response& res) { explain(req, res); }));
    http.Post("/api/explain", guarded([this](const Request& req, Response& res) { explain(req, res); }));
    auto metrics = guarded([this](const Request& req, Response& res) {
      const auto p = params_of(req);
      answer_json(res, ex.metrics(query_of(req, p)));
    });
    http.Get("/api/metrics", metrics);
    http.Post("/api/metrics", metrics);
    http.Get("/api/images", guarded([this](const Request& req, Response& res) { images(req, res); }));
    http.Get(R"(/api/images/(\d{1,9}))", guarded([this](const Request& req, Response& res) {
               const size_t i = index_param(req.matches[1]);
               json j = summary_json(add_indexed(i), classes());
               j["sample"] = sample_json(i);
               answer_json(res, j);
             }));
    http.Get("/api/original", guarded([this](const Request& req, Response& res) {
               const std::string id = req.get_param_value("image");
               const Tensor t = ex.original(id);
               if (!t.defined()) throw HttpError(404, "no image with id '" + id + "'");
               res.set_content(image::encode_png(display_rgb(t)), "image/png");
             }));
  }
};

Server::Server(Explorer& explorer, ServerOptions options, std::optional<data::Dataset> dataset)
    : impl_(std::make_unique<Impl>(explorer, std::move(options), std::move(dataset))) {}

Server::~Server() = default;

int Server::bind() {
  const ServerOptions& o = impl_->opt;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host)
                               : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  CXR_CHECK(port > 0, "serve: cannot listen on ", o.host, ":", o.port,
            " (in use, or not an address of this machine); choose another --port or --host");
  return port;
}

void Server::listen() { impl_->http.listen_after_bind(); }
void Server::stop() { impl_->http.stop(); }
bool Server::running() const { return impl_->http.is_running(); }

}  // namespace cxr::serve
