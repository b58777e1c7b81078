// XaiReport <-> the JSON of `cxr xai-eval --json` (and of `cxr explain --metrics`' metrics.json).
#include <cmath>

#include <nlohmann/json.hpp>

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

}  // namespace cxr
