// cxr_figures: the pictures of docs/img/, drawn from cxr's own computations so they stay true
// (scripts/make_figures.sh runs it, then Graphviz's dot on the .dot files; `make figures`).
//
//   cxr_figures graphs OUT_DIR        autograd_example.dot   the worked example of docs/AUTOGRAD.md
//                                     seedcnn_step.dot       a training step of the seed CNN, before backward
//                                     gradcam_capture.dot    explain's capture(): the head above the cut
//                                     gradcam_capture_guided.dot   the same with guided backprop's graph below
//   cxr_figures im2col OUT.svg        the lettered 3 x 3 example of docs/IM2COL.md through layers/im2col.cpp
//   cxr_figures sanity MODEL IMAGE LAYER OUT.png   Grad-CAM at LAYER through explain/sanity.h's cascading
//                                     randomisation: one tile per step, labelled with the unit re-initialised
//                                     (cumulatively, from the logits down) and the Spearman rho to the first
//   cxr_figures roofline SGEMM.json OUT.svg   a roofline of bench_sgemm's one-thread GEMMs (its JSON output)
//                                     under the two roofs measured here at one thread: the fastest of those
//                                     GEMMs, and a STREAM-style triad's bandwidth; plus cxr's relu forward
//
// Every label comes from the objects drawn: write_dot's shapes and byte counts, im2col's output cells.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <chrono>
#include <map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "autograd/dot.h"
#include "core/threading.h"
#include "data/loader.h"
#include "explain/cam.h"
#include "explain/font.h"
#include "explain/overlay.h"
#include "explain/sanity.h"
#include "explain/xai_fns.h"
#include "image/image.h"
#include "io/model_file.h"
#include "layers/activation.h"
#include "layers/im2col.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "models/layer_names.h"

using namespace cxr;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  CXR_CHECK(f, "cannot write ", path);
  f << text;
  CXR_CHECK(f.good(), "cannot write ", path);
}

std::string dot_text(const std::vector<Variable>& roots, const DotNames& names) {
  std::ostringstream os;
  write_dot(roots, os, names);
  return os.str();
}

void names_of(Model& m, DotNames& names) {
  for (auto& [name, p] : m.named_parameters()) names[p->node()] = name;
}

// The worked example of docs/AUTOGRAD.md (examples/autograd_step.cpp's forward).
void autograd_example(const std::string& dir) {
  Variable x(Tensor::from({1, 2}, {1, 2}));
  Variable W1(Tensor::from({0.5f, -1, 1, 0.5f}, {2, 2}), true), b1(Tensor::zeros({2}), true);
  Variable W2(Tensor::from({1, -1, 0.5f, 1}, {2, 2}), true), b2(Tensor::zeros({2}), true);
  Variable z = linear(x, W1, b1);
  Variable h = relu(z);
  Variable logits = linear(h, W2, b2);
  Variable loss = cross_entropy(logits, {1});
  DotNames names{{x.node(), "x"},   {W1.node(), "W1"},         {b1.node(), "b1"}, {W2.node(), "W2"},
                 {b2.node(), "b2"}, {z.node(), "z"},           {h.node(), "h"},   {logits.node(), "logits"},
                 {loss.node(), "loss"}};
  write_file(dir + "/autograd_example.dot", dot_text({loss}, names));
}

// The seed CNN the graphs are drawn from: 64 x 64 grey in, 3 classes.
ModelConfig seedcnn_64px() {
  ModelConfig c;
  c.arch = "seedcnn";
  c.in_channels = 1;
  c.input_size = 64;
  c.num_classes = 3;
  return c;
}

// One training step of the seed CNN as docs/AUTOGRAD.md draws it: 64 x 64 grey, 3 classes, batch 16,
// train mode (dropout on), the graph just before loss.backward().
void seedcnn_step(const std::string& dir) {
  auto model = make_model(seedcnn_64px());
  model->train(true);
  Rng rng(1);
  Tensor images = Tensor::empty({16, 1, 64, 64});
  for (int64_t i = 0; i < images.numel(); ++i) images[i] = rng.uniform();
  Variable x(images);
  Variable logits = model->forward(x);
  Variable loss = cross_entropy(logits, std::vector<int>(16, 1));
  DotNames names;
  names_of(*model, names);
  names[x.node()] = "x (16 images)";
  names[logits.node()] = "logits";
  names[loss.node()] = "loss";
  write_file(dir + "/seedcnn_step.dot", dot_text({loss}, names));
}

// Every node reachable from the roots.
std::vector<const Node*> graph_nodes(const std::vector<Variable>& roots) {
  std::vector<const Node*> out, stack;
  std::unordered_set<const Node*> seen;
  for (const Variable& r : roots)
    if (r.defined() && seen.insert(r.node()).second) stack.push_back(r.node());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    out.push_back(n);
    for (const Variable& in : n->inputs)
      if (in.defined() && seen.insert(in.node()).second) stack.push_back(in.node());
  }
  return out;
}

// explain's capture() on the seed CNN at its default layer (relu3_1), one image, drawn between the forward
// and the first backward (CaptureOptions::on_graph): the real graph Grad-CAM's backward walks.
void gradcam_capture(const std::string& dir, bool guided) {
  auto model = make_model(seedcnn_64px());
  Rng rng(2);
  Tensor image = Tensor::empty({1, 1, 64, 64});
  for (int64_t i = 0; i < image.numel(); ++i) image[i] = rng.uniform();
  const LayerInfo layer = default_target_layer(*model);
  CaptureOptions opt;
  opt.input_gradients = guided;
  std::string text;
  opt.on_graph = [&](const Variable& logits, const Variable& below) {
    std::vector<Variable> roots{logits};
    if (below.defined()) roots.push_back(below);
    DotNames names;
    names_of(*model, names);
    names[logits.node()] = "logits";
    for (const Node* n : graph_nodes(roots)) {
      if (n->inputs.empty() && n->requires_grad && n->data.dim() == 4 && n->data.size(1) > 1)
        names[n] = "the cut: " + display_name(layer) + " as a new leaf";
      if (n->inputs.empty() && n->data.shares_storage_with(image)) names[n] = "x (the image)";
    }
    if (below.defined()) names[below.node()] = display_name(layer) + ", original";
    text = dot_text(roots, names);
  };
  capture(*model, image, {layer}, {}, opt);
  CXR_CHECK(!text.empty(), "capture did not report its graph");
  write_file(dir + (guided ? "/gradcam_capture_guided.dot" : "/gradcam_capture.dot"), text);
}

// ---- im2col's windows to columns, as SVG -------------------------------------------------------------

const char* kWindowColours[4] = {"#e69f00", "#56b4e9", "#009e73", "#cc79a7"};

void im2col_svg(const std::string& path) {
  // docs/IM2COL.md: x = a..i (stored as 1..9), one channel, 2 x 2 kernel, stride 1, no padding.
  ConvGeometry g{1, 3, 3, 2, 2, 1, 1, 0, 0, 2, 2};
  std::vector<float> x(9), cols(static_cast<size_t>(g.col_rows() * g.Ho * g.Wo), -1.0f);
  for (int i = 0; i < 9; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  im2col(x.data(), g, 0, g.Ho, cols.data());
  auto letter = [](float v) {
    const int k = static_cast<int>(std::lround(v));
    return k == 0 ? std::string("0") : std::string(1, static_cast<char>('a' + k - 1));
  };
  const int cell = 28;
  std::ostringstream s;
  const int width = 4 * (3 * cell + 24) + 40, height = 3 * cell + 60 + 4 * cell + 70;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"14\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  // Top: x four times, window p = (oh, ow) shaded in its colour.
  for (int p = 0; p < 4; ++p) {
    const int ox = 20 + p * (3 * cell + 24), oy = 30, oh = p / 2, ow = p % 2;
    s << "<text x=\"" << ox + 3 * cell / 2 << "\" y=\"20\" text-anchor=\"middle\">window p" << oh << ow << "</text>\n";
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const bool in = i >= oh && i < oh + 2 && j >= ow && j < ow + 2;
        s << "<rect x=\"" << ox + j * cell << "\" y=\"" << oy + i * cell << "\" width=\"" << cell << "\" height=\""
          << cell << "\" fill=\"" << (in ? kWindowColours[p] : "white") << "\" stroke=\"#333\"/>\n"
          << "<text x=\"" << ox + j * cell + cell / 2 << "\" y=\"" << oy + i * cell + cell / 2 + 5
          << "\" text-anchor=\"middle\">" << letter(x[static_cast<size_t>(i * 3 + j)]) << "</text>\n";
      }
  }
  // Bottom: cols [R = 4, Ho*Wo = 4] as im2col wrote it; column p in window p's colour.
  const int cx = 20 + 150, cy = 3 * cell + 80;
  s << "<text x=\"" << cx + 2 * cell << "\" y=\"" << cy - 10 << "\" text-anchor=\"middle\">cols [4, 4] "
    << "(layers/im2col.cpp)</text>\n";
  const char* rows[4] = {"(i=0, j=0)", "(i=0, j=1)", "(i=1, j=0)", "(i=1, j=1)"};
  for (int r = 0; r < 4; ++r) {
    s << "<text x=\"" << cx - 8 << "\" y=\"" << cy + r * cell + cell / 2 + 5 << "\" text-anchor=\"end\">row "
      << rows[r] << "</text>\n";
    for (int p = 0; p < 4; ++p)
      s << "<rect x=\"" << cx + p * cell << "\" y=\"" << cy + r * cell << "\" width=\"" << cell << "\" height=\""
        << cell << "\" fill=\"" << kWindowColours[p] << "\" stroke=\"#333\"/>\n"
        << "<text x=\"" << cx + p * cell + cell / 2 << "\" y=\"" << cy + r * cell + cell / 2 + 5
        << "\" text-anchor=\"middle\">" << letter(cols[static_cast<size_t>(r * 4 + p)]) << "</text>\n";
  }
  for (int p = 0; p < 4; ++p)
    s << "<text x=\"" << cx + p * cell + cell / 2 << "\" y=\"" << cy + 4 * cell + 18
      << "\" text-anchor=\"middle\" font-size=\"12\">p" << p / 2 << p % 2 << "</text>\n";
  s << "<text x=\"" << cx + 4 * cell + 16 << "\" y=\"" << cy + 2 * cell + 5
    << "\">column p = window p, read row by row</text>\n</svg>\n";
  write_file(path, s.str());
}

// ---- the sanity check's cascade, as a strip of heatmaps ---------------------------------------------------

void sanity_strip(const std::string& model_path, const std::string& image_path, const std::string& layer,
                  const std::string& out) {
  io::LoadedModel lm = io::load_model_file(model_path);
  Model& m = *lm.model;
  const int S = m.config().input_size;
  const image::Image img = image::load_image(image_path);
  Tensor x = data::preprocess_image(img.pixels, S, m.config().in_channels, lm.norm);
  x = x.reshape({1, x.size(0), S, S});
  ExplainRequest req;
  req.method = CamMethod::GradCAM;
  req.layers = {layer};
  const int cls = explain_batch(m, x, req)[0][0].class_index;  // the original model's prediction, kept fixed
  MapFn inner = cam_map_fn(m, req, {cls});
  std::vector<Tensor> maps;  // [1, S, S] per call: the original, then after each randomised unit
  MapFn record = [&](const Tensor& images) {
    Tensor r = inner(images);
    maps.push_back(r.clone());
    return r;
  };
  const SanityResult res = cascading_randomization(m, record, x);
  const int64_t tile = 72, pad = 4, label_h = 2 * text_height(1) + 8;
  const int64_t n = static_cast<int64_t>(maps.size()) + 1;
  Tensor strip = Tensor::full({3, label_h + tile + pad, n * (tile + pad) + pad}, 1.0f);
  const float black[3] = {0, 0, 0};
  auto put = [&](int64_t col, const Tensor& rgb, const std::string& l1, const std::string& l2) {
    const int64_t ox = pad + col * (tile + pad);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < tile; ++i)
        for (int64_t j = 0; j < tile; ++j)
          strip[(c * strip.size(1) + label_h + i) * strip.size(2) + ox + j] = rgb[(c * tile + i) * tile + j];
    draw_text(strip, ox, 2, l1, 1, black);
    draw_text(strip, ox, 4 + text_height(1), l2, 1, black);
  };
  Tensor orig = data::prepare_image(img.pixels, static_cast<int>(tile), 1);
  put(0, display_rgb(orig), "IMAGE", "");
  for (size_t k = 0; k < maps.size(); ++k) {
    const Tensor map = maps[k].reshape({S, S});
    // A unit is named by its first module ("features.25+features.26": the conv and its batch-norm); its
    // alias (conv5_2, fc1) is short enough for a tile.
    std::string l1 = "TRAINED", l2;
    if (k > 0) {
      const std::string unit = res.steps[k - 1].layer;
      const LayerInfo info = resolve_layer(m, unit.substr(0, unit.find('+')));
      l1 = "+" + (info.alias.empty() ? info.name : info.alias);  // randomised too, with everything above
      char buf[32];
      std::snprintf(buf, sizeof buf, "RHO %.2f", res.steps[k - 1].mean_rho);
      l2 = buf;
    }
    for (char& ch : l1) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    float top = 0.0f;
    for (int64_t i = 0; i < map.numel(); ++i) top = std::max(top, map[i]);
    // A degenerate map comes back as zeros: drawn grey, as explain/overlay.h draws flat maps.
    put(static_cast<int64_t>(k) + 1, top > 0.0f ? heatmap_image(map, tile, tile) : flat_heatmap(tile, tile, "FLAT"),
        l1, l2);
  }
  image::save_png(out, strip);
  std::printf("sanity: %s (%d units, rho at half %.3f): %s\n", out.c_str(), res.units, res.rho_at_half,
              res.verdict.c_str());
}

// ---- a roofline of the GEMMs conv2d runs, from bench_sgemm's JSON ----------------------------------------

// Best of `reps` wall times of f, in seconds.
double best_seconds(int reps, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// STREAM's triad a = b + s * c over 3 x 128 MiB (far beyond any cache): 12 bytes moved per element
// (read b, read c, write a; the write-allocate read of a is not counted, as STREAM does not).
double triad_bytes_per_second() {
  const size_t n = size_t{32} << 20;
  std::vector<float> a(n, 0.0f), b(n, 1.0f), c(n, 2.0f);
  const double t = best_seconds(5, [&] {
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
  });
  volatile float sink = a[n / 2];
  (void)sink;
  return 12.0 * static_cast<double>(n) / t;
}

struct RoofPoint {
  std::string label;
  double intensity, gflops;  // FLOP per byte of the minimal traffic; measured GFLOP/s
};

void roofline_svg(const std::string& json_path, const std::string& out) {
  std::ifstream in(json_path);
  CXR_CHECK(in, json_path, ": cannot open (bench_sgemm --benchmark_format=json --benchmark_out=FILE)");
  const nlohmann::json j = nlohmann::json::parse(in);
  set_num_threads(1);
  std::vector<RoofPoint> points;
  for (const nlohmann::json& b : j.at("benchmarks")) {
    const std::string name = b.at("name");  // sgemm/vgg16_conv1_1/M64_N50176_K27/threads:1/...
    if (name.find("/threads:1") == std::string::npos || b.value("run_type", "") == "aggregate") continue;
    long long M = 1024, N = 1024, K = 1024;
    if (const size_t at = name.find("/M"); at != std::string::npos)
      CXR_CHECK(std::sscanf(name.c_str() + at, "/M%lld_N%lld_K%lld", &M, &N, &K) == 3, json_path, ": ", name);
    // A [M, K] x B [K, N] -> C [M, N], each read or written once (beta = 0): the least traffic there is.
    const double bytes = 4.0 * static_cast<double>(M * K + K * N + M * N);
    std::string label = name.substr(6, name.find('/', 6) - 6);  // vgg16_conv1_1 | square_1024
    if (label.rfind("vgg16_", 0) == 0) label = label.substr(6);
    points.push_back({label, 2.0 * M * N * K / bytes, b.at("GFLOP/s").get<double>()});
  }
  CXR_CHECK(!points.empty(), json_path, ": no sgemm/.../threads:1 benchmarks in it");
  // Repetitions give several rows per shape: keep each shape's median.
  std::map<std::string, std::vector<RoofPoint>> by_label;
  for (const RoofPoint& p : points) by_label[p.label].push_back(p);
  points.clear();
  for (auto& [label, v] : by_label) {
    std::sort(v.begin(), v.end(), [](const RoofPoint& a, const RoofPoint& b) { return a.gflops < b.gflops; });
    points.push_back(v[v.size() / 2]);
  }
  double peak = 0;
  for (const RoofPoint& p : points) peak = std::max(peak, p.gflops);
  const double bw = triad_bytes_per_second() * 1e-9;  // GB/s
  // cxr's relu forward over a conv1 activation at batch 1: 1 comparison per element, 8 bytes moved.
  {
    const Tensor x = Tensor::full({1, 64, 224, 224}, 1.0f);
    NoGradGuard no_grad;
    const double t = best_seconds(20, [&] { relu(Variable(x)); });
    points.push_back({"relu (cxr)", 1.0 / 8.0, static_cast<double>(x.numel()) / t * 1e-9});
  }
  const double ridge = peak / bw;

  // Log-log axes: intensity 2^-4 .. 2^10 FLOP/B, speed from a decade under the slowest point to 2 x peak.
  const double W = 640, H = 400, L = 64, R = 20, T = 36, B = 48;
  double ymin = peak;
  for (const RoofPoint& p : points) ymin = std::min(ymin, p.gflops);
  const double lx0 = std::log10(1.0 / 16), lx1 = std::log10(1024.0);
  const double ly0 = std::floor(std::log10(ymin * 0.5)), ly1 = std::log10(peak * 2);
  auto px = [&](double x) { return L + (std::log10(x) - lx0) / (lx1 - lx0) * (W - L - R); };
  auto py = [&](double y) { return (H - B) - (std::log10(y) - ly0) / (ly1 - ly0) * (H - T - B); };
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  s << "<text x=\"" << L << "\" y=\"20\" font-size=\"14\">Roofline at one thread: OpenBLAS SGEMM"
    << (core ? std::string(" (OPENBLAS_CORETYPE=") + core + ")" : std::string()) << ", measured here</text>\n";
  for (double x = 1.0 / 16; x <= 1024; x *= 4) {
    s << "<line x1=\"" << px(x) << "\" y1=\"" << T << "\" x2=\"" << px(x) << "\" y2=\"" << H - B
      << "\" stroke=\"#e5e7eb\"/>\n<text x=\"" << px(x) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">"
      << (x < 1 ? "1/" + std::to_string(static_cast<int>(1 / x)) : std::to_string(static_cast<int>(x))) << "</text>\n";
  }
  for (double e = ly0; e <= ly1; e += 1) {
    const double y = std::pow(10.0, e);
    s << "<line x1=\"" << L << "\" y1=\"" << py(y) << "\" x2=\"" << W - R << "\" y2=\"" << py(y)
      << "\" stroke=\"#e5e7eb\"/>\n<text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
      << (y >= 1 ? std::to_string(static_cast<long long>(y)) : "0.1") << "</text>\n";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10
    << "\" text-anchor=\"middle\">arithmetic intensity (FLOP per byte of least traffic)</text>\n"
    << "<text x=\"16\" y=\"" << (T + H - B) / 2 << "\" transform=\"rotate(-90 16 " << (T + H - B) / 2
    << ")\" text-anchor=\"middle\">GFLOP/s</text>\n";
  // The roofs: min(peak, bw * intensity), bent at the ridge.
  const double x_lo = 1.0 / 16, x_hi = 1024;
  s << "<polyline fill=\"none\" stroke=\"#111\" stroke-width=\"2\" points=\"" << px(x_lo) << "," << py(bw * x_lo)
    << " " << px(ridge) << "," << py(peak) << " " << px(x_hi) << "," << py(peak) << "\"/>\n";
  s.precision(0);
  s << "<text x=\"" << px(ridge) + 8 << "\" y=\"" << py(peak) - 6 << "\">fastest SGEMM here: " << peak
    << " GFLOP/s</text>\n";
  s.precision(1);
  s << "<text x=\"" << px(0.25) << "\" y=\"" << py(bw * 0.25) - 10 << "\" transform=\"rotate(-"
    << std::atan((py(bw * 0.25) - py(bw * 1.0)) / (px(1.0) - px(0.25))) * 180 / M_PI << " " << px(0.25) << " "
    << py(bw * 0.25) - 10 << ")\">triad: " << bw << " GB/s</text>\n";
  s << "<line x1=\"" << px(ridge) << "\" y1=\"" << py(peak) << "\" x2=\"" << px(ridge) << "\" y2=\"" << H - B
    << "\" stroke=\"#6b7280\" stroke-dasharray=\"4 3\"/>\n<text x=\"" << px(ridge) + 4 << "\" y=\"" << H - B - 6
    << "\" fill=\"#6b7280\">ridge: " << ridge << " FLOP/B</text>\n";
  for (const RoofPoint& p : points) {
    const bool gemm = p.label != "relu (cxr)";
    s << "<circle cx=\"" << px(p.intensity) << "\" cy=\"" << py(p.gflops) << "\" r=\"4\" fill=\""
      << (gemm ? "#2563eb" : "#dc2626") << "\"><title>" << p.label << ": " << p.intensity << " FLOP/B, "
      << p.gflops << " GFLOP/s</title></circle>\n";
    // Label the shapes a student asks about: the first layer, the square reference, relu.
    if (p.label == "conv1_1" || p.label == "square_1024" || !gemm)
      s << "<text x=\"" << px(p.intensity) + 7 << "\" y=\"" << py(p.gflops) + 14 << "\">" << p.label << "</text>\n";
  }
  s << "<text x=\"" << W - R << "\" y=\"" << py(peak) + 60 << "\" text-anchor=\"end\" fill=\"#2563eb\">"
    << "blue: the forward GEMM of each VGG-16 conv (224 px, one image) and 1024^3</text>\n</svg>\n";
  write_file(out, s.str());
  std::printf("roofline: %zu points, fastest SGEMM %.1f GFLOP/s, triad %.1f GB/s, ridge %.1f FLOP/B\n",
              points.size(), peak, bw, ridge);
}

int usage() {
  std::fprintf(stderr,
               "usage: cxr_figures graphs OUT_DIR | im2col OUT.svg | sanity MODEL IMAGE LAYER OUT.png | roofline "
               "SGEMM.json OUT.svg\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 2 && a[0] == "graphs") {
      autograd_example(a[1]);
      seedcnn_step(a[1]);
      gradcam_capture(a[1], false);
      gradcam_capture(a[1], true);
    } else if (a.size() == 2 && a[0] == "im2col") {
      im2col_svg(a[1]);
    } else if (a.size() == 3 && a[0] == "roofline") {
      roofline_svg(a[1], a[2]);
    } else if (a.size() == 5 && a[0] == "sanity") {
      sanity_strip(a[1], a[2], a[3], a[4]);
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cxr_figures: %s\n", e.what());
    return 1;
  }
  return 0;
}
