// XaiReport <-> the JSON of `cxr xai-eval --json` (and of `cxr explain --metrics`' metrics.json).
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "explain/xai_report.h"

namespace cxr {

static nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

static nlohmann::json mask_json(const MaskScore& m) {
  if (!m.available) return nullptr;
  nlohmann::json j = {{"energy", num(m.energy)}, {"scored", m.pointing.scored}};
  if (m.pointing.scored) {
    j["hit"] = m.pointing.hit;
    j["peak"] = {m.pointing.y, m.pointing.x};
    j["distance"] = num(m.pointing.distance);
  }
  return j;
}

nlohmann::json to_json(const XaiReport& r) {
  auto cname = [&](int c) {
    return c >= 0 && static_cast<size_t>(c) < r.class_names.size()
               ? nlohmann::json(r.class_names[static_cast<size_t>(c)])
               : nlohmann::json(nullptr);
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const XaiImageRow& row : r.rows) {
    nlohmann::json j = {{"index", row.index}, {"file", row.path}, {"label", cname(row.label)}};
    if (!row.source.empty()) j["source"] = row.source;
    if (!row.error.empty()) {
      j["error"] = row.error;
      rows.push_back(j);
      continue;
    }
    j["predicted"] = cname(row.predicted);
    j["target"] = cname(row.target);
    j["probability"] = row.probability;
    j["degenerate"] = row.degenerate;
    if (row.degenerate) j["degenerate_reason"] = row.degenerate_reason;
    if (row.faithfulness) {
      const FaithfulnessRow& f = *row.faithfulness;
      j["faithfulness"] = {{"deletion_auc", f.deletion_auc},
                           {"insertion_auc", f.insertion_auc},
                           {"deletion", f.deletion},
                           {"insertion", f.insertion},
                           {"full", f.full},
                           {"masked", f.masked},
                           {"drop", f.drop},
                           {"increase", f.increase}};
    }
    j["lesion"] = mask_json(row.lesion);
    j["lung"] = mask_json(row.lung);
    if (!row.degenerate)
      j["shortcut"] = {{"border", num(row.shortcut.border)},
                       {"outside_lung", num(row.shortcut.outside_lung)},
                       {"suspect", num(row.shortcut.suspect)},
                       {"peak_in_band", row.shortcut.peak_in_band},
                       {"flagged", row.shortcut.flagged}};
    rows.push_back(j);
  }
  nlohmann::json loc = nlohmann::json::object();
  for (const auto& [kind, groups] : r.localization)
    for (const auto& [group, s] : groups)
      loc[kind][group] = {{"scored", s.scored},
                          {"hits", s.hits},
                          {"pointing_game", num(s.pointing)},
                          {"energy_count", s.energy_count},
                          {"energy_share", num(s.energy)}};
  nlohmann::json flagged = nlohmann::json::array(), ranking = nlohmann::json::array();
  for (size_t i : r.shortcut_ranking) {
    const XaiImageRow& row = r.rows[i];
    nlohmann::json j = {{"index", row.index},
                        {"file", row.path},
                        {"suspect", num(row.shortcut.suspect)},
                        {"border", num(row.shortcut.border)},
                        {"outside_lung", num(row.shortcut.outside_lung)},
                        {"flagged", row.shortcut.flagged},
                        {"label", cname(row.label)},
                        {"target", cname(row.target)}};
    ranking.push_back(j);
    if (row.shortcut.flagged) flagged.push_back(j);
  }
  const FaithfulnessOptions& fo = r.faithfulness_options;
  nlohmann::json j = {
      {"tool", "cxr xai-eval"},
      {"model", r.model},
      {"method", method_name(r.method)},
      {"layers", r.layers},
      {"layer", r.layer},
      {"target", r.target},
      {"classes", r.class_names},
      {"input_size", r.input_size},
      {"images", r.rows.size()},
      {"failed", r.failed},
      {"degenerate", r.degenerate},
      {"seconds", r.seconds},
      {"faithfulness",
       {{"images", r.faithfulness.images},
        {"deletion_auc", r.faithfulness.deletion_auc},
        {"insertion_auc", r.faithfulness.insertion_auc},
        {"average_drop", r.faithfulness.average_drop},
        {"increase_in_confidence", r.faithfulness.increase_in_confidence},
        {"steps", fo.steps},
        {"deletion_baseline", baseline_name(fo.deletion_baseline)},
        {"insertion_baseline", baseline_name(fo.insertion_baseline)},
        {"blur_sigma", fo.blur_sigma > 0 ? fo.blur_sigma : 5.0 * static_cast<double>(r.input_size) / 224.0}}},
      {"localization", loc},
      {"pointing_tolerance", default_pointing_tolerance(r.input_size)},
      {"mask_ambiguous", r.mask_ambiguous},
      {"shortcut",
       {{"band", r.shortcut_band}, {"flagged_count", r.flagged}, {"flagged", flagged}, {"ranking", ranking}}},
      {"rows", rows}};
  if (r.markers_known)
    j["shortcut"]["known_markers"] = {
        {"images", r.marker_images}, {"flagged", r.marker_flagged}, {"other_flagged", r.other_flagged}};
  if (r.sanity) {
    const SanityResult& s = *r.sanity;
    nlohmann::json steps = nlohmann::json::array();
    for (const SanityStep& st : s.steps)
      steps.push_back({{"layer", st.layer},
                       {"randomized", st.randomized},
                       {"spearman", st.mean_rho},
                       {"spearman_abs", st.mean_rho_abs},
                       {"per_image", st.rho},
                       {"per_image_abs", st.rho_abs}});
    j["sanity"] = {{"passed", s.passed},
                   {"verdict", s.verdict},
                   {"units", s.units},
                   {"half", s.half},
                   {"spearman_at_half", s.rho_at_half},
                   {"spearman_abs_at_half", s.rho_abs_at_half},
                   {"steps", steps}};
  }
  return j;
}

// ---- reading it back -----------------------------------------------------------------------------

namespace {

// A value of the file and its place in it ("rows[3].lesion.peak"), so that every refusal says what is wrong
// and where. Each read checks the type, and the range of whole numbers and floats, before converting:
// nlohmann's get<int>() of 1e300 is undefined behaviour and its exceptions do not say where (the reader
// takes files from anywhere; fuzz_run_folder feeds it).
class Field {
 public:
  Field(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  bool has(const char* key) const { return j_.is_object() && j_.contains(key); }
  Field operator[](const char* key) const {  // a key that must be there
    if (!j_.is_object()) wrong("an object");
    const std::string w = where_.empty() ? key : where_ + "." + key;
    CXR_CHECK(j_.contains(key), "'", w, "' is missing");
    return Field(j_[key], w);
  }
  size_t size() const {
    if (!j_.is_array()) wrong("an array");
    return j_.size();
  }
  Field item(size_t i) const { return Field(j_[i], str(where_, "[", i, "]")); }  // i < size()
  std::vector<std::string> keys() const {
    if (!j_.is_object()) wrong("an object");
    std::vector<std::string> out;
    for (const auto& kv : j_.items()) out.push_back(kv.key());
    return out;
  }
  Field at(const std::string& key) const { return Field(j_[key], where_ + "." + key); }  // one of keys()

  bool is_null() const { return j_.is_null(); }
  // to_json writes a number that is not finite as null: it reads back as NaN.
  double number() const {
    if (j_.is_null()) return NAN;
    if (!j_.is_number()) wrong("a number or null");
    return j_.get<double>();
  }
  float single() const {  // a float field, written from a float
    const double v = number();
    CXR_CHECK(!(std::fabs(v) > FLT_MAX), "'", where_, "' is ", j_.dump(), ", out of a float's range");
    return static_cast<float>(v);
  }
  int64_t integer(int64_t lo, int64_t hi) const {
    if (!j_.is_number_integer()) wrong(str("a whole number from ", lo, " to ", hi).c_str());
    // A literal >= 0 parses as unsigned: beyond int64_t, it is out of any range asked for here.
    const bool fits = !j_.is_number_unsigned() || j_.get<uint64_t>() <= uint64_t{INT64_MAX};
    const int64_t v = fits ? j_.get<int64_t>() : 0;
    CXR_CHECK(fits && v >= lo && v <= hi, "'", where_, "' is ", j_.dump(), ", expected a whole number from ", lo,
              " to ", hi);
    return v;
  }
  int64_t count() const { return integer(0, std::numeric_limits<int64_t>::max()); }
  int small() const { return static_cast<int>(integer(0, std::numeric_limits<int32_t>::max())); }
  bool boolean() const {
    if (!j_.is_boolean()) wrong("true or false");
    return j_.get<bool>();
  }
  std::string text() const {
    if (!j_.is_string()) wrong("a string");
    return j_.get<std::string>();
  }
  template <typename T, typename Read>
  std::vector<T> list(Read read) const {
    std::vector<T> out;
    for (size_t i = 0, n = size(); i < n; ++i) out.push_back(read(item(i)));
    return out;
  }
  const std::string& where() const { return where_; }

 private:
  [[noreturn]] void wrong(const char* expected) const {
    const std::string kind = j_.is_null()      ? "null"
                             : j_.is_boolean() ? "a boolean"
                             : j_.is_number()  ? "a number (" + j_.dump() + ")"
                             : j_.is_string()  ? "a string"
                             : j_.is_array()   ? "an array"
                                               : "an object";
    throw Error(str("'", where_, "' is ", kind, ", expected ", expected));
  }
  const nlohmann::json& j_;
  std::string where_;
};

// The inverse of cname in to_json: a class name -> its index in `classes`, null -> -1.
int class_index(const Field& f, const std::vector<std::string>& classes) {
  if (f.is_null()) return -1;
  const std::string name = f.text();
  for (size_t c = 0; c < classes.size(); ++c)
    if (classes[c] == name) return static_cast<int>(c);
  throw Error(str("'", f.where(), "' is '", name, "', not one of the classes (", join(classes), ")"));
}

MaskScore mask_from(const Field& f) {
  MaskScore m;
  if (f.is_null()) return m;  // no mask for the image
  m.available = true;
  m.energy = f["energy"].number();
  m.pointing.scored = f["scored"].boolean();
  m.pointing.distance = INFINITY;  // as pointing_game leaves it with nothing to point at
  if (!m.pointing.scored) return m;
  m.pointing.hit = f["hit"].boolean();
  const Field peak = f["peak"];
  CXR_CHECK(peak.size() == 2, "'", peak.where(), "' holds ", peak.size(), " numbers, expected 2 (y, x)");
  m.pointing.y = peak.item(0).integer(-1, std::numeric_limits<int64_t>::max());
  m.pointing.x = peak.item(1).integer(-1, std::numeric_limits<int64_t>::max());
  // A distance is finite or, for a map without a peak, infinite: null is the latter.
  const double d = f["distance"].number();
  m.pointing.distance = std::isnan(d) ? INFINITY : d;
  return m;
}

XaiImageRow row_from(const Field& f, const std::vector<std::string>& classes) {
  XaiImageRow row;
  row.index = f["index"].integer(-1, std::numeric_limits<int64_t>::max());
  row.path = f["file"].text();
  row.label = class_index(f["label"], classes);
  if (f.has("source")) row.source = f["source"].text();
  if (f.has("error")) {  // an image that could not be evaluated has nothing else
    row.error = f["error"].text();
    CXR_CHECK(!row.error.empty(), "'", f.where(), ".error' is empty (a failed image says why)");
    return row;
  }
  row.predicted = class_index(f["predicted"], classes);
  row.target = class_index(f["target"], classes);
  row.probability = f["probability"].single();
  row.degenerate = f["degenerate"].boolean();
  if (row.degenerate) row.degenerate_reason = f["degenerate_reason"].text();
  if (f.has("faithfulness")) {
    const Field j = f["faithfulness"];
    FaithfulnessRow fr;
    fr.target = row.target;  // not written: the curves are of the class explained
    fr.deletion_auc = j["deletion_auc"].number();
    fr.insertion_auc = j["insertion_auc"].number();
    fr.deletion = j["deletion"].list<float>([](const Field& v) { return v.single(); });
    fr.insertion = j["insertion"].list<float>([](const Field& v) { return v.single(); });
    fr.full = j["full"].single();
    fr.masked = j["masked"].single();
    fr.drop = j["drop"].number();
    fr.increase = j["increase"].boolean();
    row.faithfulness = std::move(fr);
  }
  row.lesion = mask_from(f["lesion"]);
  row.lung = mask_from(f["lung"]);
  if (!row.degenerate) {  // a flat map has no shortcut score
    const Field s = f["shortcut"];
    row.shortcut.border = s["border"].number();
    row.shortcut.outside_lung = s["outside_lung"].number();
    row.shortcut.suspect = s["suspect"].number();
    row.shortcut.peak_in_band = s["peak_in_band"].boolean();
    row.shortcut.flagged = s["flagged"].boolean();
    row.shortcut.with_lungs = row.lung.available;  // not written: the score used the lung mask when there was one
  }
  return row;
}

SanityResult sanity_from(const Field& f) {
  SanityResult s;
  s.passed = f["passed"].boolean();
  s.verdict = f["verdict"].text();
  s.units = f["units"].small();
  s.half = f["half"].small();
  s.rho_at_half = f["spearman_at_half"].number();
  s.rho_abs_at_half = f["spearman_abs_at_half"].number();
  s.steps = f["steps"].list<SanityStep>([](const Field& j) {
    SanityStep st;
    st.layer = j["layer"].text();
    st.randomized = j["randomized"].small();
    st.mean_rho = j["spearman"].number();
    st.mean_rho_abs = j["spearman_abs"].number();
    st.rho = j["per_image"].list<double>([](const Field& v) { return v.number(); });
    st.rho_abs = j["per_image_abs"].list<double>([](const Field& v) { return v.number(); });
    return st;
  });
  return s;
}

template <typename Parse>
auto name_from(const Field& f, Parse parse) {  // parse_method, parse_baseline: their message, and where
  const std::string name = f.text();
  try {
    return parse(name);
  } catch (const Error& e) {
    throw Error(str("'", f.where(), "': ", e.what()));
  }
}

}  // namespace

XaiReport xai_report_from_json(const nlohmann::json& j) {
  CXR_CHECK(j.is_object() && j.contains("rows") && j.contains("faithfulness") && j.contains("shortcut"),
            "not the JSON `cxr xai-eval --json` writes (no rows / faithfulness / shortcut)");
  const Field root(j, "");
  XaiReport r;
  r.model = root["model"].text();
  r.method = name_from(root["method"], parse_method);
  if (root.has("layers")) r.layers = root["layers"].list<std::string>([](const Field& v) { return v.text(); });
  r.layer = root["layer"].text();
  r.target = root["target"].text();
  r.class_names = root["classes"].list<std::string>([](const Field& v) { return v.text(); });
  r.input_size = root["input_size"].small();
  r.failed = root["failed"].count();
  r.degenerate = root["degenerate"].count();
  r.mask_ambiguous = root["mask_ambiguous"].count();
  r.seconds = root["seconds"].number();
  // "pointing_tolerance" is not read: to_json derives it from input_size.

  const Field f = root["faithfulness"];
  r.faithfulness.images = f["images"].count();
  r.faithfulness.deletion_auc = f["deletion_auc"].number();
  r.faithfulness.insertion_auc = f["insertion_auc"].number();
  r.faithfulness.average_drop = f["average_drop"].number();
  r.faithfulness.increase_in_confidence = f["increase_in_confidence"].number();
  FaithfulnessOptions& fo = r.faithfulness_options;
  fo.steps = f["steps"].small();
  fo.deletion_baseline = name_from(f["deletion_baseline"], parse_baseline);
  fo.insertion_baseline = name_from(f["insertion_baseline"], parse_baseline);
  // to_json writes the sigma in use, 5 * S / 224 for the default (0): that value reads back as the default.
  fo.blur_sigma = f["blur_sigma"].number() == 5.0 * static_cast<double>(r.input_size) / 224.0
                      ? 0.0f
                      : f["blur_sigma"].single();

  const Field rows = root["rows"];
  for (size_t i = 0, n = rows.size(); i < n; ++i) r.rows.push_back(row_from(rows.item(i), r.class_names));
  const int64_t images = root["images"].count();
  CXR_CHECK(images == static_cast<int64_t>(r.rows.size()), "'images' is ", images, " but 'rows' holds ",
            r.rows.size());

  const Field loc = root["localization"];  // mask kind -> group ("all" or a class) -> summary
  for (const std::string& kind : loc.keys()) {
    const Field groups = loc.at(kind);
    for (const std::string& group : groups.keys()) {
      const Field g = groups.at(group);
      LocalizationSummary& s = r.localization[kind][group];
      s.scored = g["scored"].count();
      s.hits = g["hits"].count();
      s.pointing = g["pointing_game"].number();
      s.energy_count = g["energy_count"].count();
      s.energy = g["energy_share"].number();
    }
  }

  const Field sc = root["shortcut"];
  r.shortcut_band = sc["band"].small();
  r.flagged = sc["flagged_count"].count();
  // The ranking names rows by dataset index, file and explained class (`cxr explain --metrics` writes one row
  // per requested class of an image); each entry takes the first row of those not taken yet. Its other
  // fields, and the "flagged" list (the ranking's flagged entries), repeat the rows' and are not read.
  std::map<std::tuple<int64_t, std::string, int>, std::vector<size_t>> untaken;
  for (size_t i = r.rows.size(); i-- > 0;)  // back to front: each vector's last is its first row
    if (r.rows[i].error.empty() && !r.rows[i].degenerate)
      untaken[{r.rows[i].index, r.rows[i].path, r.rows[i].target}].push_back(i);
  const Field ranking = sc["ranking"];
  for (size_t k = 0, n = ranking.size(); k < n; ++k) {
    const Field e = ranking.item(k);
    const int64_t index = e["index"].integer(-1, std::numeric_limits<int64_t>::max());
    const std::string file = e["file"].text();
    auto it = untaken.find({index, file, class_index(e["target"], r.class_names)});
    CXR_CHECK(it != untaken.end() && !it->second.empty(), "'", e.where(), "' (index ", index, ", file '", file,
              "') is not one of the explained rows, or one listed before");
    r.shortcut_ranking.push_back(it->second.back());
    it->second.pop_back();
  }
  if (sc.has("known_markers")) {
    const Field m = sc["known_markers"];
    r.markers_known = true;
    r.marker_images = m["images"].count();
    r.marker_flagged = m["flagged"].count();
    r.other_flagged = m["other_flagged"].count();
  }
  if (root.has("sanity")) r.sanity = sanity_from(root["sanity"]);
  return r;
}

}  // namespace cxr
