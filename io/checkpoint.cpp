// Checkpoints: Module state <-> safetensors, metadata, optimizer state. See checkpoint.h.
#include "core/strings.h"
#include "io/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "io/json_file.h"
#include "io/safetensors.h"

namespace cxr::io {

using json = nlohmann::json;

namespace {

// PyTorch keeps batch-norm's batch counter as an int64 scalar (shape []); cxr as a [1] float buffer.
bool is_batches_tracked(const std::string& name) {
  return name == "num_batches_tracked" || name.ends_with(".num_batches_tracked");
}

// Batch-norm buffers, told from parameters by name (for counting without a model).
bool is_bn_buffer(const std::string& name) {
  for (const char* b : {"running_mean", "running_var", "num_batches_tracked"})
    if (name == b || name.ends_with(std::string(".") + b)) return true;
  return false;
}

// Every tensor of a model's state, by state_dict name: parameters' data, then buffers.
std::vector<std::pair<std::string, Tensor*>> model_state(Module& model) {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [name, v] : model.named_parameters()) out.push_back({name, &v->data()});
  for (auto& [name, t] : model.named_buffers()) out.push_back({name, t});
  std::set<std::string> seen;
  for (auto& [name, t] : out) {
    CXR_CHECK(seen.insert(name).second, "checkpoint: the model has two tensors named '", name, "'");
    CXR_CHECK(t->defined(), "checkpoint: the model's tensor '", name, "' is undefined");
  }
  return out;
}

// A checkpoint tensor fits a model tensor when the shapes are equal; for num_batches_tracked any
// one-element shapes fit each other (PyTorch's [] and cxr's [1]).
bool shapes_fit(const std::string& name, const Shape& file, const Shape& model) {
  if (file == model) return true;
  return is_batches_tracked(name) && numel(file) == 1 && numel(model) == 1;
}

bool skipped(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (name.starts_with(p)) return true;
  return false;
}

// "a [1, 2], b [3], ... and 7 more": error lists stay readable for a whole mismatched VGG.
std::string list_names(const std::vector<std::string>& items) {
  constexpr size_t kShow = 6;
  std::string out = join({items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), kShow))});
  if (items.size() > kShow) out += str(", ... and ", items.size() - kShow, " more");
  return out;
}

template <typename T>
void read_field(const json& j, const char* key, T& out) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw Error(str("checkpoint metadata: field '", key, "' has the wrong type (", j.at(key).dump(), ")"));
  }
}

// Parses a metadata JSON string. Nesting is capped: copying or printing a json is recursive in nlohmann, so
// a hostile, deeply nested value could otherwise overflow the stack later.
json parse_metadata_json(const std::string& text, const std::string& path, const char* key) {
  try {
    return parse_json_limited(text, 64, [&] {
      throw Error(str(path, ": metadata '", key, "' is nested more than 64 levels deep"));
    });
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 3e6252 (fuzz_checkpoint)
    throw Error(str(path, ": metadata '", key, "' is not valid JSON: ", e.what()));
  }
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.2f GB", n / 1e9);
  else if (n >= 1000000ull) std::snprintf(buf, sizeof buf, "%.1f MB", n / 1e6);
  else if (n >= 1000ull) std::snprintf(buf, sizeof buf, "%.1f kB", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

// --- metadata -------------------------------------------------------------------------------------------

json meta_to_json(const CheckpointMeta& m) {
  json j = {{"format_version", 1}, {"model", m.model}, {"classes", m.classes}, {"mean", m.mean},
            {"std", m.std},       {"epoch", m.epoch}, {"step", m.step},       {"seed", m.seed},
            {"metrics", m.metrics}, {"source", m.source}, {"extra", m.extra}};
  if (!m.created.empty()) j["created"] = m.created;
  if (m.temperature > 0) j["temperature"] = m.temperature;
  return j;
}

CheckpointMeta meta_from_json(const json& j) {
  CXR_CHECK(j.is_object(), "checkpoint metadata: expected a JSON object, got ", j.type_name());
  CheckpointMeta m;
  m.found = true;
  if (j.contains("model")) {
    try {
      m.model = j.at("model").get<ModelConfig>();
    } catch (const json::exception& e) {
      throw Error(str("checkpoint metadata: bad model config: ", e.what()));
    }
  }
  read_field(j, "classes", m.classes);
  read_field(j, "mean", m.mean);
  read_field(j, "std", m.std);
  read_field(j, "epoch", m.epoch);
  read_field(j, "step", m.step);
  read_field(j, "seed", m.seed);
  read_field(j, "metrics", m.metrics);
  read_field(j, "source", m.source);
  read_field(j, "created", m.created);
  if (j.contains("extra")) m.extra = j.at("extra");
  read_field(j, "temperature", m.temperature);
  CXR_CHECK(m.temperature == 0 || (std::isfinite(m.temperature) && m.temperature > 0),
            "checkpoint metadata: temperature must be > 0, got ", m.temperature);
  CXR_CHECK(m.classes.empty() || static_cast<int>(m.classes.size()) == m.model.num_classes, "checkpoint metadata: ",
            m.classes.size(), " class names for a model with ", m.model.num_classes, " classes");
  CXR_CHECK(m.mean.size() == m.std.size(), "checkpoint metadata: ", m.mean.size(), " means but ", m.std.size(),
            " standard deviations");
  return m;
}

// The metadata of a file: the "cxr" JSON string parsed, or defaults (found = false) when absent.
static CheckpointMeta meta_from_metadata(const std::string& path, const std::map<std::string, std::string>& md) {
  auto it = md.find("cxr");
  if (it == md.end()) return {};
  const json j = parse_metadata_json(it->second, path, "cxr");
  try {
    return meta_from_json(j);
  } catch (const Error& e) {
    throw Error(str(path, ": ", e.what()));
  }
}

// --- save / load ----------------------------------------------------------------------------------------

void set_checkpoint_temperature(const std::string& path, double temperature) {
  CXR_CHECK(std::isfinite(temperature) && temperature > 0, path, ": temperature must be finite and > 0, got ",
            temperature);
  SafeTensors file = load_safetensors(path);
  CheckpointMeta meta = meta_from_metadata(path, file.metadata);
  CXR_CHECK(meta.found, path, ": no cxr metadata (not written by cxr): cannot store a temperature in it");
  meta.temperature = temperature;
  file.metadata["cxr"] = meta_to_json(meta).dump();
  char plain[32];
  std::snprintf(plain, sizeof plain, "%.17g", temperature);
  file.metadata["temperature"] = plain;
  save_safetensors(path, file.tensors, file.metadata);
}

void save_checkpoint(const std::string& path, Module& model, const CheckpointMeta& meta_in) {
  // A cxr Model knows its own config: that one goes into the file, so the metadata can never disagree
  // with the tensors (a caller that forgot to fill meta.model would otherwise record the default vgg16).
  CheckpointMeta meta = meta_in;
  if (const auto* m = dynamic_cast<const Model*>(&model)) meta.model = m->config();
  CXR_CHECK(meta.classes.empty() || static_cast<int>(meta.classes.size()) == meta.model.num_classes, path,
            ": checkpoint metadata has ", meta.classes.size(), " class names for a model with ",
            meta.model.num_classes, " classes");
  std::vector<NamedTensor> tensors;
  for (auto& [name, t] : model_state(model)) {
    NamedTensor nt;
    nt.name = name;
    nt.value = *t;
    if (is_batches_tracked(name) && t->numel() == 1) {
      nt.dtype = DType::I64;
      nt.value = t->reshape({});  // PyTorch's scalar
    }
    tensors.push_back(std::move(nt));
  }
  const json j = meta_to_json(meta);
  std::map<std::string, std::string> md = {
      {"format", "pt"},  // the Hugging Face convention for PyTorch state dicts
      {"cxr", j.dump()},
      {"arch", model_name(meta.model)},
      {"classes", json(meta.classes).dump()},
      {"input_size", std::to_string(meta.model.input_size)},
      {"parameter_count", std::to_string(model.parameter_count())},
  };
  save_safetensors(path, tensors, md);
}

// What a mismatch of shapes most likely means, when nothing is missing or extra: only the output layer's
// first dimension differs (another class count), or only the first convolution's input channels (grey
// against RGB). "" when neither.
static std::string mismatch_hint(Module& model,
                                 const std::vector<std::pair<std::string, std::pair<Shape, Shape>>>& shapes,
                                 bool names_differ) {
  if (shapes.empty() || names_differ) return "";
  std::string first_conv, last_linear;
  for (auto& [name, t] : model_state(model)) {
    if (t->dim() == 4 && first_conv.empty()) first_conv = name;
    if (t->dim() == 2) last_linear = name;
  }
  auto layer_of = [](const std::string& name) { return name.substr(0, name.rfind('.')); };
  auto only = [&](const std::string& weight, size_t dim) {  // every mismatch in weight's layer, along dim only
    if (weight.empty()) return false;
    for (const auto& [name, fm] : shapes) {
      if (layer_of(name) != layer_of(weight) || fm.first.size() != fm.second.size()) return false;
      for (size_t d = 0; d < fm.first.size(); ++d)
        if (d != dim && fm.first[d] != fm.second[d]) return false;
    }
    return true;
  };
  if (only(last_linear, 0))
    return str("; only the output layer ", layer_of(last_linear), " differs: a model for another number of classes ",
               "(`cxr train --init` replaces that layer)");
  if (only(first_conv, 1))
    for (const auto& [name, fm] : shapes)
      if (name == first_conv)
        return str("; only the input channels differ (", fm.first[1], " in the file, ", fm.second[1],
                   " in the model): see --channels");
  return "";
}

CheckpointMeta load_checkpoint(const std::string& path, Module& model, const LoadOptions& options,
                               LoadReport* report) {
  // 1. Everything into memory, validated: a corrupt file fails here with the model untouched.
  SafeTensors file = load_safetensors(path);
  CheckpointMeta meta = meta_from_metadata(path, file.metadata);

  // 2. Match names and shapes.
  LoadReport r;
  std::vector<std::string> missing, unexpected;
  std::vector<std::pair<std::string, std::pair<Shape, Shape>>> mismatched;  // name -> (file, model) shapes
  std::vector<std::pair<Tensor*, const NamedTensor*>> copies;
  std::set<std::string> model_names;
  for (auto& [name, t] : model_state(model)) {
    model_names.insert(name);
    if (skipped(name, options.skip_prefixes)) {
      r.skipped.push_back(name);
      continue;
    }
    const NamedTensor* f = file.find(name);
    if (!f) {
      missing.push_back(name + " " + to_string(t->shape()));
      r.missing.push_back(name);
    } else if (!shapes_fit(name, f->value.shape(), t->shape())) {
      mismatched.push_back({name, {f->value.shape(), t->shape()}});
    } else {
      copies.push_back({t, f});
      r.loaded.push_back(name);
    }
  }
  for (const NamedTensor& f : file.tensors)
    if (!model_names.count(f.name) && !skipped(f.name, options.skip_prefixes)) {
      unexpected.push_back(f.name + " " + to_string(f.value.shape()));
      r.unexpected.push_back(f.name);
    }

  const bool fail = !mismatched.empty() || (options.strict && (!missing.empty() || !unexpected.empty()));
  if (fail) {
    std::string msg = str(path, ": checkpoint does not fit the model");
    if (meta.found) msg += str(" (checkpoint is ", model_name(meta.model), ")");
    // The first thing to say of another architecture (vgg11 for vgg16, say): the convolutions differ in number.
    int64_t file_convs = 0, model_convs = 0;
    for (const NamedTensor& f : file.tensors) file_convs += f.value.dim() == 4;
    for (auto& [name, t] : model_state(model)) model_convs += t->dim() == 4;
    if (file_convs != model_convs)
      msg += str(": the file has ", file_convs, " convolutions, the model ", model_convs,
                 " (VGG-11 has 8, VGG-13 10, VGG-16 13, VGG-19 16): another architecture");
    if (!mismatched.empty()) {
      std::vector<std::string> lines;
      for (const auto& [name, fm] : mismatched)
        lines.push_back(str(name, ": checkpoint ", to_string(fm.first), " vs model ", to_string(fm.second)));
      msg += str("; shape mismatch (", mismatched.size(), "): ", list_names(lines));
    }
    if (options.strict && !missing.empty())
      msg += str("; missing from checkpoint (", missing.size(), "): ", list_names(missing));
    if (options.strict && !unexpected.empty())
      msg += str("; unexpected in checkpoint (", unexpected.size(), "): ", list_names(unexpected));
    msg += mismatch_hint(model, mismatched, !missing.empty() || !unexpected.empty());
    throw Error(msg);
  }

  // 3. All checks passed: copy. Nothing below can fail (same element counts).
  for (auto& [t, f] : copies) t->copy_from(f->value);
  if (report) *report = std::move(r);
  return meta;
}

// --- describing without a model -------------------------------------------------------------------------

CheckpointInfo read_checkpoint_info(const std::string& path) {
  SafeTensorsHeader h = read_safetensors_header(path);
  CheckpointInfo info;
  info.path = path;
  info.file_bytes = h.file_size;
  info.metadata = h.metadata;
  info.meta = meta_from_metadata(path, h.metadata);
  info.has_meta = info.meta.found;
  info.tensor_count = static_cast<int64_t>(h.entries.size());
  for (const TensorEntry& e : h.entries) {
    (is_bn_buffer(e.name) ? info.buffer_count : info.parameter_count) += numel(e.shape);
    ++info.dtypes[dtype_name(e.dtype)];
  }
  return info;
}

CheckpointMeta read_checkpoint_meta(const std::string& path) { return read_checkpoint_info(path).meta; }

std::string describe_checkpoint(const std::string& path) {
  const CheckpointInfo info = read_checkpoint_info(path);
  const CheckpointMeta& m = info.meta;
  std::string dtypes;
  for (const auto& [d, n] : info.dtypes) dtypes += str(dtypes.empty() ? "" : ", ", d, " x", n);
  std::string out = str(path, ": safetensors checkpoint, ", human_bytes(info.file_bytes), "\n");
  out += str("  tensors:     ", info.tensor_count, dtypes.empty() ? "" : " (" + dtypes + ")", "\n");
  out += str("  parameters:  ", info.parameter_count, info.buffer_count ? str(" (+ ", info.buffer_count, " in batch-norm buffers)") : "", "\n");
  if (const auto opt = info.metadata.find("cxr_optimizer"); !info.has_meta && opt != info.metadata.end()) {
    std::string type = "?";
    try {
      type = json::parse(opt->second).value("type", "?");
    } catch (const std::exception&) {
    }
    out += str("  contents:    optimizer state (", type, ") of a cxr training run, read by `cxr train --resume`; "
               "the weights are in the checkpoint beside it\n");
    return out;
  }
  if (!info.has_meta) {
    out += "  model:       unknown (no cxr metadata: e.g. weights converted from PyTorch)\n";
    return out;
  }
  const ModelConfig& c = m.model;
  out += str("  model:       ", model_name(c), ", width ", c.width, ", head ", c.head, ", ", c.num_classes,
             " classes, dropout ", c.dropout, "\n");
  out += str("  input:       ", c.in_channels, " x ", c.input_size, " x ", c.input_size, "\n");
  if (!m.classes.empty()) {
    std::string cls;
    for (size_t i = 0; i < m.classes.size(); ++i) cls += str(i ? ", " : "", i, "=", m.classes[i]);
    out += str("  classes:     ", cls, "\n");
  }
  if (!m.mean.empty()) out += str("  normalise:   mean ", json(m.mean).dump(), ", std ", json(m.std).dump(), "\n");
  if (m.temperature > 0)
    out += str("  temperature: ", m.temperature, " (cxr eval --fit-temperature; eval and predict scale by it)\n");
  std::string prov;
  if (m.epoch >= 0) prov += str("epoch ", m.epoch);
  if (m.step >= 0) prov += str(prov.empty() ? "" : ", ", "step ", m.step);
  if (!m.source.empty()) prov += str(prov.empty() ? "" : ", ", "source '", m.source, "'");
  if (!m.created.empty()) prov += str(prov.empty() ? "" : ", ", "created ", m.created);
  if (!prov.empty()) out += str("  provenance:  ", prov, "\n");
  if (!m.metrics.empty()) {
    std::string met;
    for (const auto& [k, v] : m.metrics) met += str(met.empty() ? "" : ", ", k, " = ", v);
    out += str("  metrics:     ", met, "\n");
  }
  return out;
}

// --- optimizer state ------------------------------------------------------------------------------------

void save_optimizer_state(const std::string& path, const OptimizerState& state) {
  std::vector<NamedTensor> tensors;
  for (const auto& [name, t] : state.tensors) tensors.push_back({name, t, DType::F32, {}});
  const json j = {{"type", state.type}, {"step", state.step}, {"scalars", state.scalars}, {"extra", state.extra}};
  save_safetensors(path, tensors, {{"cxr_optimizer", j.dump()}});
}

int64_t optimizer_state_step(const std::string& path) {
  const SafeTensorsHeader h = read_safetensors_header(path);
  auto it = h.metadata.find("cxr_optimizer");
  CXR_CHECK(it != h.metadata.end(), path, ": not a cxr optimizer state file (no 'cxr_optimizer' metadata)");
  int64_t step = 0;
  try {
    read_field(parse_metadata_json(it->second, path, "cxr_optimizer"), "step", step);
  } catch (const Error& e) {
    throw Error(str(path, ": optimizer metadata: ", e.what()));
  }
  return step;
}

OptimizerState load_optimizer_state(const std::string& path) {
  SafeTensors file = load_safetensors(path);
  auto it = file.metadata.find("cxr_optimizer");
  CXR_CHECK(it != file.metadata.end(), path, ": not a cxr optimizer state file (no 'cxr_optimizer' metadata)");
  OptimizerState s;
  const json j = parse_metadata_json(it->second, path, "cxr_optimizer");
  try {
    CXR_CHECK(j.is_object(), "not a JSON object");
    read_field(j, "type", s.type);
    read_field(j, "step", s.step);
    read_field(j, "scalars", s.scalars);
    if (j.contains("extra")) s.extra = j.at("extra");
  } catch (const Error& e) {
    throw Error(str(path, ": optimizer metadata: ", e.what()));
  }
  for (NamedTensor& t : file.tensors) s.tensors[t.name] = t.value;
  return s;
}

OptimizerState optimizer_state(Optimizer& opt) {
  OptimizerState s;
  s.type = opt.type();
  s.step = opt.step_count();
  s.scalars["lr"] = opt.lr();
  // Hyper-parameters, for the record (the caller constructs the optimizer with its own options).
  if (auto* sgd = dynamic_cast<SGD*>(&opt)) {
    s.scalars["momentum"] = sgd->options.momentum;
    s.scalars["dampening"] = sgd->options.dampening;
    s.scalars["weight_decay"] = sgd->options.weight_decay;
    s.scalars["nesterov"] = sgd->options.nesterov ? 1.0 : 0.0;
  } else if (auto* adam = dynamic_cast<Adam*>(&opt)) {
    s.scalars["beta1"] = adam->options.beta1;
    s.scalars["beta2"] = adam->options.beta2;
    s.scalars["eps"] = adam->options.eps;
    s.scalars["weight_decay"] = adam->options.weight_decay;
  }
  for (auto& [name, t] : opt.named_state()) s.tensors[name] = *t;
  return s;
}

void save_optimizer_state(const std::string& path, Optimizer& opt) { save_optimizer_state(path, optimizer_state(opt)); }

OptimizerState load_optimizer_state(const std::string& path, Optimizer& opt) {
  OptimizerState s = load_optimizer_state(path);
  CXR_CHECK(s.type == opt.type(), path, ": optimizer state is for ", s.type.empty() ? "an unknown optimizer" : s.type,
            ", not ", opt.type());
  auto lr = s.scalars.find("lr");
  CXR_CHECK(lr == s.scalars.end() || (std::isfinite(lr->second) && lr->second >= 0), path,
            ": optimizer state has a bad learning rate ", lr->second);
  // Keep what is there now, so that a bad entry half way leaves the optimizer as it was.
  std::vector<std::pair<std::string, Tensor>> before;
  for (auto& [name, t] : opt.named_state()) before.push_back({name, t->clone()});
  const float lr_before = opt.lr();
  const int64_t step_before = opt.step_count();
  try {
    opt.clear_state();
    for (const auto& [name, t] : s.tensors) opt.load_state(name, t);
    if (lr != s.scalars.end()) opt.set_lr(static_cast<float>(lr->second));
    opt.set_step_count(s.step);
  } catch (const Error& e) {
    opt.clear_state();
    for (auto& [name, t] : before) opt.load_state(name, t);
    opt.set_lr(lr_before);
    opt.set_step_count(step_before);
    throw Error(str(path, ": ", e.what()));
  }
  return s;
}

}  // namespace cxr::io
