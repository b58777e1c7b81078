#include "explain/xai_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/argmax.h"
#include "core/progress.h"
#include "core/strings.h"
#include "data/loader.h"
#include "explain/pipeline.h"
#include "explain/xai_fns.h"
#include "image/image.h"

namespace fs = std::filesystem;

namespace cxr {

namespace {

MaskScore score_mask(const Tensor& map, const Tensor& mask) {
  MaskScore m;
  if (!mask.defined()) return m;
  m.available = true;
  m.pointing = pointing_game(map, mask);
  m.energy = energy_share(map, mask);
  return m;
}

int argmax_row(const Tensor& probs, int64_t n) {
  const int64_t K = probs.size(1);
  const float* p = probs.data() + n * K;
  return argmax(p, K);
}

}  // namespace

std::vector<XaiImageRow> evaluate_batch(Model& model, const Tensor& images, const std::vector<Explanation>& ex,
                                        const std::vector<Tensor>& lesion_masks, const std::vector<Tensor>& lung_masks,
                                        const XaiOptions& opt) {
  CXR_CHECK(images.defined() && images.dim() == 4, "evaluate_batch: images must be [N, C, S, S], got ",
            images.defined() ? to_string(images.shape()) : "undefined");
  const int64_t N = images.size(0), H = images.size(2), W = images.size(3);
  CXR_CHECK(static_cast<int64_t>(ex.size()) == N, "evaluate_batch: ", ex.size(), " explanations for ", N, " images");
  CXR_CHECK(lesion_masks.empty() || static_cast<int64_t>(lesion_masks.size()) == N,
            "evaluate_batch: ", lesion_masks.size(), " lesion masks for ", N, " images");
  CXR_CHECK(lung_masks.empty() || static_cast<int64_t>(lung_masks.size()) == N, "evaluate_batch: ", lung_masks.size(),
            " lung masks for ", N, " images");
  std::vector<XaiImageRow> rows(static_cast<size_t>(N));
  std::vector<int64_t> live;  // non-degenerate images
  Tensor maps = Tensor::empty({N, H, W});
  for (int64_t n = 0; n < N; ++n) {
    const Explanation& e = ex[static_cast<size_t>(n)];
    XaiImageRow& r = rows[static_cast<size_t>(n)];
    r.target = e.class_index;
    r.probability = e.probability;
    r.degenerate = e.degenerate;
    r.degenerate_reason = e.degenerate_reason;
    Tensor m = input_map(e, H, W);
    std::copy(m.data(), m.data() + H * W, maps.data() + n * H * W);
    auto mask_of = [&](const std::vector<Tensor>& v) { return v.empty() ? Tensor() : v[static_cast<size_t>(n)]; };
    const Tensor lesion = mask_of(lesion_masks), lung = mask_of(lung_masks);
    for (const Tensor* t : {&lesion, &lung})
      CXR_CHECK(!t->defined() || (t->dim() == 2 && t->size(0) == H && t->size(1) == W), "evaluate_batch: mask ",
                to_string(t->shape()), " for image ", n, " must be [", H, ", ", W, "]");
    if (r.degenerate) continue;
    live.push_back(n);
    r.lesion = score_mask(m, lesion);
    r.lung = score_mask(m, lung);
    r.shortcut = shortcut_score(m, lung, opt.shortcut);
  }
  if (opt.with_faithfulness && !live.empty()) {
    const int64_t C = images.size(1), per = C * H * W;
    Tensor x = Tensor::empty({static_cast<int64_t>(live.size()), C, H, W});
    Tensor mp = Tensor::empty({static_cast<int64_t>(live.size()), H, W});
    std::vector<int> cls;
    for (size_t k = 0; k < live.size(); ++k) {
      std::copy(images.data() + live[k] * per, images.data() + (live[k] + 1) * per,
                x.data() + static_cast<int64_t>(k) * per);
      std::copy(maps.data() + live[k] * H * W, maps.data() + (live[k] + 1) * H * W,
                mp.data() + static_cast<int64_t>(k) * H * W);
      cls.push_back(rows[static_cast<size_t>(live[k])].target);
    }
    std::vector<FaithfulnessRow> f =
        faithfulness(model_score_fn(model, opt.faithfulness.batch), x, mp, cls, opt.faithfulness);
    for (size_t k = 0; k < live.size(); ++k) rows[static_cast<size_t>(live[k])].faithfulness = std::move(f[k]);
  }
  return rows;
}

XaiReport make_report(std::vector<XaiImageRow> rows, const std::vector<std::string>& class_names,
                      const XaiOptions& opt) {
  XaiReport r;
  r.class_names = class_names;
  r.target = opt.target;
  r.method = opt.request.method;
  r.faithfulness_options = opt.faithfulness;
  r.rows = std::move(rows);
  std::vector<FaithfulnessRow> faith;
  std::vector<ShortcutScore> scores;
  std::vector<size_t> scored_rows;
  auto class_name = [&](int c) {
    return c >= 0 && static_cast<size_t>(c) < class_names.size() ? class_names[static_cast<size_t>(c)]
                                                                 : "class" + std::to_string(c);
  };
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const XaiImageRow& row = r.rows[i];
    if (!row.error.empty()) {
      ++r.failed;
      continue;
    }
    if (row.degenerate) {
      ++r.degenerate;
      continue;
    }
    if (row.faithfulness) faith.push_back(*row.faithfulness);
    scores.push_back(row.shortcut);
    scored_rows.push_back(i);
    if (row.shortcut.flagged) ++r.flagged;
    if (row.source.starts_with("synth")) r.markers_known = true;
    if (row.source == "synth-marker") {
      ++r.marker_images;
      if (row.shortcut.flagged) ++r.marker_flagged;
    } else if (row.shortcut.flagged) {
      ++r.other_flagged;
    }
    const std::string cls = class_name(row.label >= 0 ? row.label : row.target);
    for (const auto& [kind, m] :
         {std::pair<std::string, const MaskScore*>{"lesion", &row.lesion}, {"lung", &row.lung}}) {
      if (!m->available) continue;
      for (const std::string& group : {std::string("all"), cls}) {
        LocalizationSummary& s = r.localization[kind][group];
        if (m->pointing.scored) {
          ++s.scored;
          if (m->pointing.hit) ++s.hits;
        }
        if (!std::isnan(m->energy)) {
          s.energy = s.energy_count == 0 ? m->energy : s.energy + m->energy;
          ++s.energy_count;
        }
      }
    }
  }
  for (auto& [kind, groups] : r.localization)
    for (auto& [group, s] : groups) {
      s.pointing = s.scored ? static_cast<double>(s.hits) / static_cast<double>(s.scored) : NAN;
      if (s.energy_count) s.energy /= static_cast<double>(s.energy_count);
    }
  r.faithfulness = summarize(faith);
  for (size_t k : rank_by_suspicion(scores)) r.shortcut_ranking.push_back(scored_rows[k]);
  return r;
}

std::vector<int64_t> evaluation_subset(int64_t size, int64_t limit) {
  const int64_t n = limit > 0 ? std::min(limit, size) : size;
  std::vector<int64_t> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = i * size / n;  // floor(i * size / n)
  return out;
}

std::map<std::string, MaskFolder> resolve_mask_folders(const std::string& dir, const std::string& kind) {
  CXR_CHECK(kind == "lesion" || kind == "lung", "--mask-kind '", kind, "': must be lesion or lung");
  std::map<std::string, MaskFolder> out;
  std::error_code ec;
  CXR_CHECK(fs::is_directory(dir, ec), dir, ": not a folder (--masks wants a folder of mask images)");
  for (const char* k : {"lesion", "lung"})
    if (fs::is_directory(fs::path(dir) / k, ec)) out.emplace(k, MaskFolder((fs::path(dir) / k).string()));
  if (out.empty()) out.emplace(kind, MaskFolder(dir));
  return out;
}

std::vector<XaiImageRow> gather_rows(dist::Comm& comm, std::vector<XaiImageRow> mine,
                                     const std::vector<std::string>& class_names, const XaiOptions& opt) {
  if (comm.size() == 1) return mine;
  const std::vector<std::string> parts = comm.gather(to_json(make_report(std::move(mine), class_names, opt)).dump());
  std::vector<XaiImageRow> all;
  for (const std::string& text : parts) {
    XaiReport r = xai_report_from_json(nlohmann::json::parse(text));
    for (XaiImageRow& row : r.rows) all.push_back(std::move(row));
  }
  return all;
}

XaiReport evaluate_explanations(Model& model, const data::Dataset& dataset, const XaiOptions& opt, dist::Comm* comm) {
  const auto t0 = std::chrono::steady_clock::now();
  CXR_CHECK(opt.target == "pred" || opt.target == "true", "target '", opt.target, "': must be pred or true");
  CXR_CHECK(opt.batch >= 1, "batch ", opt.batch, " must be at least 1");
  const ModelConfig& mc = model.config();
  const int C = mc.in_channels, S = mc.input_size;
  const int64_t total = opt.limit > 0 ? std::min(opt.limit, dataset.size()) : dataset.size();
  const std::vector<int64_t> chosen = evaluation_subset(dataset.size(), opt.limit);
  CXR_CHECK(total > 0, dataset.origin, ": no images to evaluate");
  std::map<std::string, MaskFolder> folders;
  if (!opt.masks_dir.empty()) folders = resolve_mask_folders(opt.masks_dir, opt.mask_kind);
  int64_t ambiguous = 0;
  // The explanation request, with its layer names resolved once (errors surface before any work).
  const ExplainRequest& req = opt.request;
  std::string layer = "input";
  std::vector<std::string> layer_names;
  if (req.method != CamMethod::Guided) {
    layer.clear();
    for (const LayerInfo& l : resolve_target_layers(model, req.layers)) {
      layer += (layer.empty() ? "" : " + ") + display_name(l);
      layer_names.push_back(l.name);
    }
  }

  // One row per chosen image, in order; explained batch by batch (explain/pipeline.h).
  std::vector<XaiImageRow> rows(chosen.size());
  std::vector<ImageToExplain> items(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) {
    const data::Sample& s = dataset.samples[static_cast<size_t>(chosen[i])];
    rows[i].index = chosen[i];
    rows[i].path = s.path;
    rows[i].source = s.source;
    rows[i].label = s.label;
    items[i] = {s.path, -1, s.lesion_mask, s.lung_mask};
    if (opt.target == "true") {
      CXR_CHECK(s.label >= 0, s.path, ": --target true needs labelled images");
      items[i].target = s.label;
    }
  }
  ExplainPipelineOptions po;
  po.request = req;
  po.normalisation = opt.normalisation;
  po.batch = opt.batch;
  po.masks = true;
  po.mask_folders = std::move(folders);
  Tensor sanity_images;
  std::vector<int> sanity_classes;
  int64_t sanity_have = 0;
  // This rank's items: all of them in one process.
  const int ranks = comm ? comm->size() : 1;
  const dist::Range mine =
      dist::share_batches(static_cast<int64_t>(items.size()), opt.batch, comm ? comm->rank() : 0, ranks);
  const size_t first = static_cast<size_t>(mine.begin);
  const std::vector<ImageToExplain> my_items(items.begin() + mine.begin, items.begin() + mine.end);
  std::optional<Progress> bar;
  if (opt.progress)
    bar.emplace(ranks > 1 ? "Evaluating explanations (rank 0's share)" : "Evaluating explanations", mine.size(), stdout);
  explain_images(
      model, my_items, po,
      [&](ExplainedBatch& b) {
        for (ExplainedImage& im : b.images) im.index += first;  // into rows
        const int64_t ng = static_cast<int64_t>(b.images.size());
        std::vector<Tensor> les, lu;
        std::vector<Explanation> ex;
        for (ExplainedImage& im : b.images) {
          ambiguous += im.masks_ambiguous;
          les.push_back(im.lesion);
          lu.push_back(im.lung);
          ex.push_back(std::move(im.explanations.front()));
        }
        if (ng > 0) {
          std::vector<XaiImageRow> got = evaluate_batch(model, b.inputs, ex, les, lu, opt);
          for (int64_t g = 0; g < ng; ++g) {
            XaiImageRow& r = rows[b.images[static_cast<size_t>(g)].index];
            XaiImageRow& m = got[static_cast<size_t>(g)];
            m.index = r.index;
            m.path = std::move(r.path);
            m.source = std::move(r.source);
            m.label = r.label;
            m.predicted = argmax_row(b.probabilities, g);
            r = std::move(m);
          }
          // The first images go to the sanity check.
          const int64_t want = std::min<int64_t>(opt.sanity_images - sanity_have, ng);
          if (want > 0) {
            Tensor add = Tensor::empty({sanity_have + want, C, S, S});
            if (sanity_have) std::copy(sanity_images.data(), sanity_images.data() + sanity_images.numel(), add.data());
            std::copy(b.inputs.data(), b.inputs.data() + want * C * S * S, add.data() + sanity_have * C * S * S);
            for (int64_t g = 0; g < want; ++g) sanity_classes.push_back(ex[static_cast<size_t>(g)].class_index);
            sanity_images = add;
            sanity_have += want;
          }
        }
        if (bar) bar->update(static_cast<int64_t>(b.end), {}, static_cast<int64_t>(b.end));
      },
      [&](size_t i, const std::string& message) { rows[first + i].error = message; });
  if (bar) bar->finish();
  if (ranks > 1) {
    std::vector<XaiImageRow> own(std::make_move_iterator(rows.begin() + mine.begin),
                                 std::make_move_iterator(rows.begin() + mine.end));
    if (!comm->is_root()) {  // its rows go to rank 0; it keeps them too, for its count of failures
      gather_rows(*comm, own, dataset.class_names, opt);
      XaiReport part;
      part.rows = std::move(own);
      for (const XaiImageRow& r : part.rows) part.failed += r.error.empty() ? 0 : 1;
      double a = static_cast<double>(ambiguous);
      comm->allreduce_sum(&a, 1);
      return part;
    }
    rows = gather_rows(*comm, std::move(own), dataset.class_names, opt);
    double a = static_cast<double>(ambiguous);
    comm->allreduce_sum(&a, 1);
    ambiguous = static_cast<int64_t>(a);
  }

  XaiReport report = make_report(std::move(rows), dataset.class_names, opt);
  report.model = model.name();
  report.method = req.method;
  report.layers = std::move(layer_names);
  report.layer = layer;
  report.input_size = S;
  report.shortcut_band = opt.shortcut.band >= 0 ? opt.shortcut.band : default_shortcut_band(S);
  report.mask_ambiguous = ambiguous;
  if (ranks > 1 && sanity_have < opt.sanity_images && mine.end < static_cast<int64_t>(items.size()))
    std::fprintf(stderr, "cxr: warning: the sanity check runs on rank 0's readable images, %lld of the %d asked "
                         "for (one process would take more from the images after them)\n",
                 static_cast<long long>(sanity_have), opt.sanity_images);
  if (opt.sanity_images > 0 && sanity_have > 0)
    report.sanity = cascading_randomization(model, cam_map_fn(model, req, sanity_classes), sanity_images, opt.sanity);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

// ---- output -----------------------------------------------------------------------------------------

static std::string fmt(double v, const char* f = "%.3f") {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string format_report(const XaiReport& r, int top) {
  std::string o;
  const int64_t ok = static_cast<int64_t>(r.rows.size()) - r.failed;
  o += str(method_name(r.method), " at ", r.layer, " on ", r.model, ", ", ok, " image(s) explained (", r.target, " class)");
  if (r.degenerate) o += str(", ", r.degenerate, " flat map(s) left out");
  if (r.failed) o += str(", ", r.failed, " failed to load");
  o += "\n\n";
  const FaithfulnessOptions& fo = r.faithfulness_options;
  if (r.faithfulness.images > 0) {
    o += str("Faithfulness (", r.faithfulness.images, " images, ", fo.steps, " steps; deletion to ",
             baseline_name(fo.deletion_baseline), ", insertion from ", baseline_name(fo.insertion_baseline), ")\n");
    o += str("  deletion AUC    ", fmt(r.faithfulness.deletion_auc), "   (lower is better)\n");
    o += str("  insertion AUC   ", fmt(r.faithfulness.insertion_auc), "   (higher is better)\n");
    o += str("  average drop    ", fmt(r.faithfulness.average_drop, "%.1f"), "%   (lower is better)\n");
    o += str("  increase in confidence ", fmt(r.faithfulness.increase_in_confidence, "%.1f"),
             "%   (higher is better)\n\n");
  }
  if (!r.localization.empty()) {
    char line[256];
    o += str("Localisation (pointing game within ", default_pointing_tolerance(r.input_size),
             " px; energy share inside the mask)\n");
    std::snprintf(line, sizeof line, "  %-7s %-14s %8s %10s %8s %10s\n", "mask", "class", "scored", "pointing",
                  "images", "energy");
    o += line;
    for (const auto& kind_groups : r.localization) {
      // Named copies, not a structured binding: clang 14 (the fuzz build) cannot capture those in a lambda.
      const std::string& kind = kind_groups.first;
      const auto& groups = kind_groups.second;
      auto put = [&](const std::string& g, const LocalizationSummary& s) {
        std::snprintf(line, sizeof line, "  %-7s %-14s %8lld %10s %8lld %10s\n", kind.c_str(), g.c_str(),
                      static_cast<long long>(s.scored), fmt(s.pointing).c_str(), static_cast<long long>(s.energy_count),
                      fmt(s.energy).c_str());
        o += line;
      };
      for (const auto& [g, s] : groups)
        if (g != "all") put(g, s);
      if (groups.count("all")) put("all", groups.at("all"));
    }
    o += "\n";
  }
  o += str("Shortcut finder (border band ", r.shortcut_band, " px; flagged: ", r.flagged, " of ",
           r.shortcut_ranking.size(), ")\n");
  int shown = 0;
  for (size_t i : r.shortcut_ranking) {
    const XaiImageRow& row = r.rows[i];
    if (!row.shortcut.flagged || shown >= top) continue;
    ++shown;
    o += str("  ", fmt(row.shortcut.suspect), "  border ", fmt(row.shortcut.border), "  outside lung ",
             fmt(row.shortcut.outside_lung), "  ", row.path, "\n");
  }
  if (r.flagged > shown) o += str("  ... and ", r.flagged - shown, " more (see the JSON)\n");
  if (r.markers_known)
    o += str("  synthetic marker images (source synth-marker): ", r.marker_flagged, " of ", r.marker_images,
             " flagged; other images flagged: ", r.other_flagged, "\n");
  if (r.sanity) {
    o += "\nSanity check (cascading randomisation, Spearman with the original map)\n";
    for (const SanityStep& st : r.sanity->steps)
      o += str("  ", st.randomized, "  ", st.layer, ": ", fmt(st.mean_rho), " (of |maps|: ", fmt(st.mean_rho_abs),
               ")\n");
    o += "  " + r.sanity->verdict + "\n";
  }
  return o;
}

}  // namespace cxr
