#include "models/summary.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace cxr {

// The output shape of one layer for input shape `in`, and its multiply-accumulates. Mirrors each layer's
// forward (see layers/*.h): the summary stays instant, and a test checks it against a real forward.
static Shape infer(Module* m, const std::string& name, const Shape& in, int64_t& macs) {
  macs = 0;
  auto need4 = [&](int64_t channels) {
    CXR_CHECK(in.size() == 4, "summary: ", name, " (", m->type(), ") needs [N, C, H, W] input, got ", to_string(in));
    CXR_CHECK(channels < 0 || in[1] == channels, "summary: ", name, " (", m->describe(), ") gets ", in[1],
              " channels, input ", to_string(in));
  };
  if (auto* c = dynamic_cast<Conv2d*>(m)) {
    need4(c->in_channels);
    const int64_t ho = conv_out_size(in[2], c->kernel, c->stride, c->pad);
    const int64_t wo = conv_out_size(in[3], c->kernel, c->stride, c->pad);
    CXR_CHECK(ho >= 1 && wo >= 1, "summary: ", name, ": input ", to_string(in), " is smaller than the kernel");
    macs = int64_t{c->out_channels} * ho * wo * c->in_channels * c->kernel * c->kernel * in[0];
    return {in[0], c->out_channels, ho, wo};
  }
  if (auto* b = dynamic_cast<BatchNorm2d*>(m)) {
    need4(b->channels);
    return in;
  }
  if (dynamic_cast<ReLU*>(m) || dynamic_cast<Dropout*>(m)) return in;
  if (auto* p = dynamic_cast<MaxPool2d*>(m)) {
    need4(-1);
    CXR_CHECK(in[2] >= p->kernel && in[3] >= p->kernel, "summary: ", name, ": input ", to_string(in),
              " is smaller than the ", p->kernel, "x", p->kernel, " pooling window");
    return {in[0], in[1], (in[2] - p->kernel) / p->stride + 1, (in[3] - p->kernel) / p->stride + 1};
  }
  if (auto* a = dynamic_cast<AdaptiveAvgPool2d*>(m)) {
    need4(-1);
    return {in[0], in[1], a->out_h, a->out_w};
  }
  if (dynamic_cast<Flatten*>(m)) {
    CXR_CHECK(in.size() >= 2, "summary: ", name, ": cannot flatten ", to_string(in));
    return {in[0], numel(in) / in[0]};
  }
  if (auto* l = dynamic_cast<Linear*>(m)) {
    CXR_CHECK(in.size() == 2 && in[1] == l->in_features, "summary: ", name, " (", l->describe(), ") gets input ",
              to_string(in));
    macs = int64_t{l->in_features} * l->out_features * in[0];
    return {in[0], l->out_features};
  }
  throw Error(str("summary: no shape rule for layer ", name, " of type ", m->type()));
}

ModelSummary summarize(Model& model, int height, int width) {
  const ModelConfig& c = model.config();
  if (height <= 0) height = c.input_size;
  if (width <= 0) width = c.input_size;
  ModelSummary s;
  s.model = model.name();
  s.config = model.describe();
  s.model_config = c;
  s.input = {1, c.in_channels, height, width};
  s.conv_option = conv_algo();
  model.check_input(s.input);
  Shape shape = s.input;
  s.activation_bytes = numel(shape) * int64_t{sizeof(float)};
  for (const LayerInfo& l : layer_table(model)) {
    SummaryRow r;
    r.name = l.name;
    r.alias = l.alias;
    r.type = l.module->type();
    r.describe = l.module->describe();
    if (auto* c = dynamic_cast<Conv2d*>(l.module); c && shape.size() == 4)
      r.conv = resolve_conv_algo(conv_algo(), ConvShape{1, shape[1], shape[2], shape[3], c->out_channels, c->kernel,
                                                        c->kernel, c->stride, c->stride, c->pad, c->pad});
    shape = infer(l.module, l.name, shape, r.macs);
    r.output = shape;
    for (auto& [pname, v] : l.module->named_parameters()) {
      r.params += v->numel();
      if (v->requires_grad()) r.trainable += v->numel();
    }
    for (auto& [bname, t] : l.module->named_buffers()) s.buffer_values += t->numel();
    s.total_params += r.params;
    s.trainable_params += r.trainable;
    s.total_macs += r.macs;
    s.activation_bytes += numel(shape) * int64_t{sizeof(float)};
    s.rows.push_back(std::move(r));
  }
  s.parameter_bytes = s.total_params * int64_t{sizeof(float)};
  return s;
}

static std::string commas(int64_t v) {
  std::string d = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return v < 0 ? "-" + out : out;
}

static std::string human(double v, const char* unit) {  // 15.47 G, 527.8 MiB
  char buf[64];
  const char* big[] = {"", " K", " M", " G", " T"};
  int k = 0;
  const double step = std::string(unit) == "B" ? 1024.0 : 1000.0;
  while (v >= step && k < 4) v /= step, ++k;
  if (std::string(unit) == "B") {
    const char* bin[] = {" B", " KiB", " MiB", " GiB", " TiB"};
    std::snprintf(buf, sizeof buf, "%.2f%s", v, bin[k]);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f%s%s", v, big[k], unit);
  }
  return buf;
}

static std::string pad(const std::string& s, size_t w, bool right = false) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

// One table line: each cell padded to its column (numbers right-aligned).
static void add_row(std::string& o, const std::vector<std::string>& cells) {
  static const size_t widths[] = {27, 19, 22, 14, 17};
  for (size_t i = 0; i < cells.size(); ++i) {
    o.push_back(' ');
    o.append(pad(cells[i], widths[i], /*right=*/i >= 3));
  }
  o.push_back('\n');
}

std::string format_summary(const ModelSummary& s) {
  const size_t total = 5 + 27 + 19 + 22 + 14 + 17;
  const std::string rule(total, '_'), double_rule(total, '=');
  std::string o;
  o.append("Model: ").append(s.config).append("\n");
  o.append("Input: ").append(to_string(s.input)).append("\n");
  o.append(str("Convolutions: --conv ", conv_algo_name(s.conv_option),
               s.conv_option == ConvAlgo::im2col ? " (im2col + SGEMM everywhere)\n"
               : s.conv_option == ConvAlgo::winograd
                   ? str(" (Winograd F(2x2,3x3) where 3x3, stride 1, padding 1 and >= ", kWinogradMinChannels,
                         " input channels; im2col elsewhere)\n")
                   : " (per shape the faster of im2col and Winograd, timed on the first forward; auto: not timed yet)\n"));
  o.append(rule).append("\n");
  add_row(o, {"Layer (alias)", "Type", "Output shape", "Param #", "MACs"});
  o.append(double_rule).append("\n");
  std::string section;
  for (const SummaryRow& r : s.rows) {
    const std::string sec = r.name.substr(0, r.name.find('.'));
    if (!section.empty() && sec != section) o.append(rule).append("\n");
    section = sec;
    const std::string name = r.alias.empty() ? r.name : r.name + " (" + r.alias + ")";
    const std::string type = r.conv ? str(r.type, " (", conv_algo_name(*r.conv), ")") : r.type;
    add_row(o, {name, type, to_string(r.output), commas(r.params), commas(r.macs)});
  }
  o.append(double_rule).append("\n");
  o.append(str("Total params:         ", commas(s.total_params), " (", human(double(s.parameter_bytes), "B"), ")\n"));
  o.append(str("Trainable params:     ", commas(s.trainable_params), "\n"));
  o.append(str("Non-trainable params: ", commas(s.total_params - s.trainable_params), "\n"));
  o.append(str("Buffers:              ", commas(s.buffer_values), " (batch-norm running statistics)\n"));
  o.append(str("Total MACs:           ", commas(s.total_macs), " (", human(double(s.total_macs), "MACs"),
               ", conv + linear, batch 1)\n"));
  o.append(str("Activations:          ", human(double(s.activation_bytes), "B"),
               " (float32 layer outputs, batch 1)\n"));
  o.append(rule).append("\n");
  return o;
}

nlohmann::json summary_json(const ModelSummary& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SummaryRow& r : s.rows) {
    rows.push_back({{"name", r.name},
                    {"alias", r.alias},
                    {"type", r.type},
                    {"describe", r.describe},
                    {"output_shape", r.output},
                    {"params", r.params},
                    {"trainable_params", r.trainable},
                    {"macs", r.macs}});
    if (r.conv) rows.back()["conv_algo"] = conv_algo_name(*r.conv);
  }
  return {{"model", s.model},
          {"config", s.config},
          {"model_config", s.model_config},
          {"input_shape", s.input},
          {"conv", conv_algo_name(s.conv_option)},
          {"layers", rows},
          {"total_params", s.total_params},
          {"trainable_params", s.trainable_params},
          {"non_trainable_params", s.total_params - s.trainable_params},
          {"buffer_values", s.buffer_values},
          {"total_macs", s.total_macs},
          {"parameter_bytes", s.parameter_bytes},
          {"activation_bytes", s.activation_bytes}};
}

}  // namespace cxr
