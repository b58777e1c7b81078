// render_report: ReportData -> one self-contained HTML page. Markup is generated here; every string from data
// passes through Html::text / attribute escaping (report/html.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "report/html.h"
#include "report/report.h"
#include "report/svg_plot.h"

namespace fs = std::filesystem;

namespace cxr::report {

namespace {

const char* kCss = R"CSS(
:root{--ink:#1c2433;--muted:#5b6678;--line:#e3e8ef;--bg:#f2f4f8;--card:#fff;--blue:#1d4ed8;--red:#c2410c;--green:#047857}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header.top{background:linear-gradient(120deg,#0b1730,#1e3a8a 70%,#2563eb);color:#fff;padding:28px 0 30px}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
h1{font-size:26px;margin:0 0 4px;font-weight:650;letter-spacing:-.01em}
.sub{color:#c7d4f5;font-size:13.5px;overflow-wrap:anywhere}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:14px;margin-top:22px}
.tile{background:rgba(255,255,255,.1);border:1px solid rgba(255,255,255,.18);border-radius:12px;padding:12px 16px}
.tile .v{font-size:28px;font-weight:700;letter-spacing:-.02em;font-variant-numeric:tabular-nums}
.tile .l{font-size:12.5px;color:#c7d4f5;text-transform:uppercase;letter-spacing:.05em}
.tile .h{font-size:12px;color:#dbe4fb}
nav{position:sticky;top:0;z-index:2;background:rgba(255,255,255,.94);border-bottom:1px solid var(--line);backdrop-filter:blur(6px)}
nav a{display:inline-block;padding:10px 12px;color:var(--muted);text-decoration:none;font-size:14px;font-weight:550}
nav a:hover{color:var(--blue)}
main{padding:22px 0 40px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:14px;box-shadow:0 1px 3px rgba(16,24,40,.06);padding:20px 24px;margin:0 0 22px}
h2{font-size:19px;margin:0 0 4px;font-weight:650}
h3{font-size:15px;margin:18px 0 8px;color:#334155}
p.lead{margin:0 0 14px;color:var(--muted);font-size:14px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px;align-items:start}
figure{margin:0}
figcaption{font-size:13px;color:var(--muted);margin-top:4px}
svg.chart,svg.confusion{max-width:100%;height:auto;font-family:inherit}
svg .tick{font-size:11.5px;fill:#475569}
svg .axis{font-size:12.5px;fill:#334155;font-weight:600}
svg .count{font-size:17px;font-weight:700}
table{border-collapse:collapse;width:100%;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
th{font-weight:600;color:#334155;background:#f8fafc;position:sticky;top:42px}
td.n,th.n{text-align:right}
td.sub{padding-left:26px;color:var(--muted)}
tr:nth-child(even) td{background:#fbfcfe}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
.kv td:first-child{color:var(--muted);width:32%;white-space:nowrap}
.group{margin:18px 0 6px;font-weight:650;font-size:14.5px;display:flex;gap:8px;align-items:center}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600}
.pill.bad{background:#fdeee7;color:var(--red)}
.pill.ok{background:#e6f4ee;color:var(--green)}
.pill.info{background:#e8eefc;color:var(--blue)}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px}
.item{border:1px solid var(--line);border-radius:12px;padding:10px;background:#fff}
.item.mistake{border-color:#f3c4ae;box-shadow:inset 4px 0 0 var(--red)}
.trio{display:grid;grid-template-columns:repeat(3,1fr);gap:6px}
.trio figure{text-align:center}
.trio img,.duo img{width:100%;height:auto;border-radius:6px;background:#0b0f17;image-rendering:auto;display:block}
.trio figcaption,.duo figcaption{font-size:11px;margin:2px 0 0}
.duo{display:grid;grid-template-columns:repeat(2,1fr);gap:6px}
.name{font-size:12.5px;margin-top:8px;overflow-wrap:anywhere}
.meta{font-size:12.5px;color:var(--muted)}
.missing{display:flex;align-items:center;justify-content:center;aspect-ratio:1;border-radius:6px;background:#eef1f6;color:var(--muted);font-size:11px}
.metrics{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:6px 0 10px}
.metric{border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.metric .v{font-size:22px;font-weight:700;font-variant-numeric:tabular-nums}
.metric .l{font-size:12.5px;color:var(--muted)}
.note{background:#fff8e6;border:1px solid #f5dfa6;border-radius:10px;padding:10px 14px;font-size:13.5px;margin:0 0 22px}
details summary{cursor:pointer;color:var(--blue);font-weight:600;margin:8px 0}
footer{color:var(--muted);font-size:12.5px;text-align:center;padding:10px 0 30px}
@media print{nav{display:none}section.card{break-inside:avoid;box-shadow:none}}
)CSS";

// The page's only script: counts the images the browser could decode (for the browser test and readers).
const char* kScript =
    "<script>window.addEventListener('load',function(){var a=document.images,n=0;"
    "for(var i=0;i<a.length;i++){if(a[i].complete&&a[i].naturalWidth>0)n++;}"
    "var e=document.getElementById('img-check');if(e){e.setAttribute('data-decoded',n);"
    "e.setAttribute('data-total',a.length);e.textContent=n+' of '+a.length+' images decoded';}});</script>";

std::string class_name(const ReportData& d, int k) {
  if (k < 0) return "?";
  if (static_cast<size_t>(k) < d.classes.size()) return d.classes[static_cast<size_t>(k)];
  return "class" + std::to_string(k);
}

std::string basename(const std::string& path) {
  const std::string b = fs::path(path).filename().string();
  return b.empty() ? path : b;
}

// A class of an explanation report by its index, as the report names it; a dash when unknown.
std::string xai_class(const XaiReport& x, int k) {
  return k >= 0 && static_cast<size_t>(k) < x.class_names.size() ? x.class_names[static_cast<size_t>(k)]
                                                                  : "\xE2\x80\x93";
}

// A JSON value as a table cell string (strings without quotes).
std::string jtext(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "\xE2\x80\x93";
  if (v.is_number_float()) {  // config floats went through float: 0.001 rather than 0.0010000000474974513
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", v.get<double>());
    return buf;
  }
  std::string s = v.dump();
  if (s.size() > 240) s = s.substr(0, 237) + "...";
  return s;
}

void tile(Html& h, const std::string& label, const std::string& value, const std::string& hint) {
  h.open("div", {{"class", "tile"}}).element("div", label, {{"class", "l"}}).element("div", value, {{"class", "v"}});
  if (!hint.empty()) h.element("div", hint, {{"class", "h"}});
  h.close("div");
}

void metric(Html& h, const std::string& label, const std::string& value) {
  h.open("div", {{"class", "metric"}}).element("div", value, {{"class", "v"}}).element("div", label, {{"class", "l"}});
  h.close("div");
}

void kv_row(Html& h, const std::string& k, const std::string& v, bool mono = false) {
  h.open("tr").element("td", k);
  if (mono)
    h.open("td").element("code", v).close("td");
  else
    h.element("td", v);
  h.close("tr");
}

void img_or_missing(Html& h, const std::string& uri, const std::string& alt, const std::string& caption) {
  h.open("figure");
  if (!uri.empty())
    h.empty("img", {{"src", uri}, {"alt", alt}, {"loading", "eager"}});
  else
    h.element("div", "not available", {{"class", "missing"}});
  h.element("figcaption", caption).close("figure");
}

// ---- sections ----------------------------------------------------------------------------------------

void header(Html& h, const ReportData& d) {
  h.open("header", {{"class", "top"}}).open("div", {{"class", "wrap"}});
  h.element("h1", d.title);
  h.open("div", {{"class", "sub"}})
      .text("Run " + d.run_dir + "  \xC2\xB7  " + d.data + " (" + d.split + " split)  \xC2\xB7  generated " + d.generated)
      .close("div");
  h.open("div", {{"class", "tiles"}});
  tile(h, "Test accuracy", fmt_pct(d.eval.accuracy), std::to_string(d.eval.count) + " images");
  tile(h, "Macro-F1", fmt_fixed(d.eval.macro_f1, 3), std::to_string(d.eval.classes.size()) + " classes");
  const double pg = d.pointing_game();
  std::string pg_hint = "Grad-CAM peak on the lesion";
  if (const LocalizationSummary* a = d.xai ? localization_of(*d.xai, "lesion", "all") : nullptr)
    pg_hint = std::to_string(a->hits) + " of " + std::to_string(a->scored) + " lesions hit";
  tile(h, "Pointing game", fmt_pct(pg), std::isfinite(pg) ? pg_hint : "no lesion masks scored");
  const int64_t fl = d.flagged_count();
  std::string fl_hint = "evidence on border markers";
  if (d.xai) fl_hint = "of " + std::to_string(d.xai->rows.size()) + " explained images";
  tile(h, "Shortcut flags", fl >= 0 ? std::to_string(fl) : "\xE2\x80\x93", fl >= 0 ? fl_hint : "not computed");
  int best = 0;
  for (size_t i = 0; i < d.history.size(); ++i)
    if (best == 0 || d.history[i].val_loss < d.history[static_cast<size_t>(best - 1)].val_loss) best = static_cast<int>(i) + 1;
  tile(h, "Epochs", std::to_string(d.history.size()),
       d.meta.epoch >= 0 ? "checkpoint from epoch " + std::to_string(d.meta.epoch) : "checkpoint epoch unknown");
  h.close("div").close("div").close("header");
  h.raw("<nav><div class=\"wrap\"><a href=\"#training\">Training</a><a href=\"#results\">Test results</a>"
        "<a href=\"#gallery\">Gallery</a><a href=\"#xai\">Explanation metrics</a><a href=\"#shortcuts\">Shortcuts</a>"
        "<a href=\"#model\">Model</a><a href=\"#provenance\">Provenance</a></div></nav>");
}

void training(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "training"}}).element("h2", "Training");
  double total = 0;
  int best = -1;
  for (size_t i = 0; i < d.history.size(); ++i) {
    total += d.history[i].seconds;
    if (best < 0 || d.history[i].val_loss < d.history[static_cast<size_t>(best)].val_loss) best = static_cast<int>(i);
  }
  std::string lead = std::to_string(d.history.size()) + (d.history.size() == 1 ? " epoch in " : " epochs in ") +
                     fmt_fixed(total / 60.0, 1) + " min";
  if (best >= 0) {
    const EpochRecord& b = d.history[static_cast<size_t>(best)];
    lead += "; lowest validation loss " + fmt_fixed(b.val_loss, 4) + " at epoch " + std::to_string(b.epoch) +
            " (validation accuracy " + fmt_pct(b.val_accuracy) + ").";
  }
  h.element("p", lead, {{"class", "lead"}});
  std::vector<double> ep, loss, vloss, acc, vacc;
  for (const auto& r : d.history) {
    ep.push_back(r.epoch);
    loss.push_back(r.loss);
    vloss.push_back(r.val_loss);
    acc.push_back(r.accuracy);
    vacc.push_back(r.val_accuracy);
  }
  const bool few = d.history.size() <= 30;
  LinePlot lp;
  lp.x_label = "epoch";
  lp.y_label = "cross-entropy loss";
  lp.integer_x = true;
  lp.y_min = 0;
  lp.series = {{"train", ep, loss, series_color(0), false, few}, {"validation", ep, vloss, series_color(1), true, few}};
  LinePlot ap = lp;
  ap.y_label = "accuracy";
  ap.y_min = NAN;
  ap.y_max = 1;
  ap.series = {{"train", ep, acc, series_color(0), false, few}, {"validation", ep, vacc, series_color(1), true, few}};
  h.open("div", {{"class", "grid2"}});
  h.open("figure").raw(line_chart_svg(lp)).element("figcaption", "Loss per epoch (train: running mean over the epoch; "
                                                                 "validation: after the epoch)").close("figure");
  h.open("figure").raw(line_chart_svg(ap)).element("figcaption", "Accuracy per epoch").close("figure");
  h.close("div").close("section");
}

// "[0.812, 0.874]": the bootstrap interval of one figure (train/bootstrap.h), "" when none was computed.
std::string interval_text(const EvalReport& e, const std::string& key) {
  const auto it = e.bootstrap.intervals.find(key);
  if (e.bootstrap.resamples == 0 || it == e.bootstrap.intervals.end()) return "";
  if (it->second.defined == 0) return "not defined";
  return "[" + fmt_fixed(it->second.lo, 3) + ", " + fmt_fixed(it->second.hi, 3) + "]";
}

// NORMAL vs PNEUMONIA ROC AUC within each source (train/metrics.h), with bootstrap intervals when computed.
void source_auc(Html& h, const EvalReport& e) {
  if (e.group_auc.empty()) return;
  h.element("h3", "NORMAL vs PNEUMONIA within each source");
  h.raw("<table><thead><tr><th>source</th><th class=\"n\">ROC AUC</th><th class=\"n\">95% interval</th></tr>"
        "</thead><tbody>");
  for (const auto& [g, auc] : e.group_auc) {
    h.open("tr").element("td", g).element("td", std::isfinite(auc) ? fmt_fixed(auc, 3) : "not defined", {{"class", "n"}});
    h.element("td", interval_text(e, "source_auc/" + g), {{"class", "n"}}).close("tr");
  }
  h.raw("</tbody></table>");
  h.element("p", "The model's probability of PNEUMONIA over a source's images labelled NORMAL or PNEUMONIA: within one "
                 "source, recognising the source cannot help. Not defined where a source lacks one of the two.",
            {{"class", "meta"}});
}

// A plot of two rates on [0, 1] x [0, 1] with the diagonal dashed: the ROC curves (chance) and the
// reliability diagram (perfect calibration).
LinePlot unit_square_plot(const std::string& x_label, const std::string& y_label) {
  LinePlot p;
  p.x_label = x_label;
  p.y_label = y_label;
  p.x_min = p.y_min = 0;
  p.x_max = p.y_max = 1;
  p.diagonal = true;
  return p;
}

// The reliability diagram: per confidence bin, the accuracy of its images against their mean confidence
// (on the diagonal when calibrated), as a line chart with a dot per non-empty bin.
void calibration_section(Html& h, const EvalReport& e) {
  const Calibration& c = e.calibration;
  if (c.bins == 0) return;  // an eval JSON written before calibration was recorded
  h.element("h3", "Calibration");
  h.open("div", {{"class", "metrics"}});
  metric(h, "expected calibration error", fmt_fixed(c.ece, 4));
  metric(h, "maximum calibration error", fmt_fixed(c.mce, 4));
  metric(h, "temperature", e.temperature > 0 ? fmt_fixed(e.temperature, 3) : "not applied");
  h.close("div");
  LinePlot rel = unit_square_plot("confidence (mean in bin)", "accuracy in bin");
  Series s{"model", {}, {}, series_color(0), false, true};
  for (const ReliabilityBin& b : c.reliability)
    if (b.count > 0) {
      s.x.push_back(b.confidence);
      s.y.push_back(b.accuracy);
    }
  rel.series.push_back(s);
  h.open("figure").raw(line_chart_svg(rel))
      .element("figcaption", str("Reliability diagram: top-label confidence in ", c.bins, " equal-width bins against "
                                 "the accuracy of each bin's images (dashed: perfect calibration). ",
                                 e.temperature > 0 ? str("Probabilities scaled by temperature T = ",
                                                         fmt_fixed(e.temperature, 3), " (", e.temperature_from, ").")
                                                   : std::string("No temperature scaling applied.")))
      .close("figure");
  h.raw("<table><thead><tr><th>confidence bin</th><th class=\"n\">images</th><th class=\"n\">mean confidence</th>"
        "<th class=\"n\">accuracy</th></tr></thead><tbody>");
  for (const ReliabilityBin& b : c.reliability) {
    if (b.count == 0) continue;
    h.open("tr").element("td", "(" + fmt_fixed(b.lo, 3) + ", " + fmt_fixed(b.hi, 3) + "]");
    h.element("td", std::to_string(b.count), {{"class", "n"}}).element("td", fmt_fixed(b.confidence, 3), {{"class", "n"}});
    h.element("td", fmt_fixed(b.accuracy, 3), {{"class", "n"}}).close("tr");
  }
  h.raw("</tbody></table>");
}

void results(Html& h, const ReportData& d) {
  const EvalReport& e = d.eval;
  h.open("section", {{"class", "card"}, {"id", "results"}}).element("h2", "Test results");
  h.element("p", d.dataset_summary + ". Metrics " + (d.eval_source == "computed with the checkpoint" ? "" : "read from ") +
                     d.eval_source + ".",
            {{"class", "lead"}});
  h.open("div", {{"class", "metrics"}});
  const auto with_interval = [&e](const std::string& v, const std::string& key) {
    const std::string iv = interval_text(e, key);
    return iv.empty() ? v : v + " " + iv;
  };
  metric(h, "accuracy", with_interval(fmt_pct(e.accuracy), "accuracy"));
  metric(h, "macro-F1", with_interval(fmt_fixed(e.macro_f1, 3), "macro_f1"));
  metric(h, "mean cross-entropy", fmt_fixed(e.loss, 4));
  metric(h, "images", std::to_string(e.count));
  h.close("div");
  if (e.bootstrap.resamples > 0)
    h.element("p", str("Intervals: 95% percentile bootstrap, ", e.bootstrap.resamples, " resamples of the ",
                       e.bootstrap.units, e.bootstrap.by_patient ? " patients (each with all its images)"
                                                                 : " images (the data has no patient ids)",
                       ", seed ", e.bootstrap.seed, "."),
              {{"class", "meta"}});
  std::vector<std::string> names;
  for (const auto& c : e.classes) names.push_back(c.name);
  LinePlot roc = unit_square_plot("false positive rate", "true positive rate");
  for (size_t k = 0; k < e.roc.size() && k < e.classes.size(); ++k)
    roc.series.push_back({e.classes[k].name + " (AUC " + fmt_fixed(e.classes[k].roc_auc, 3) + ")", e.roc[k].fpr,
                          e.roc[k].tpr, series_color(k), false, false});
  h.open("div", {{"class", "grid2"}});
  h.open("figure").raw(confusion_svg(e.confusion, names))
      .element("figcaption", "Confusion matrix: rows are the true class, columns the prediction; shade = share of the "
                             "row (blue correct, red mistakes)")
      .close("figure");
  h.open("figure").raw(line_chart_svg(roc)).element("figcaption", "ROC curves, one class against the rest").close("figure");
  h.close("div");

  h.element("h3", "Per class");
  h.raw("<table><thead><tr><th>class</th><th class=\"n\">precision</th><th class=\"n\">recall</th><th></th>"
        "<th class=\"n\">F1</th><th class=\"n\">ROC AUC</th><th class=\"n\">support</th></tr></thead><tbody>");
  for (const auto& c : e.classes) {
    h.open("tr").element("td", c.name).element("td", fmt_fixed(c.precision, 3), {{"class", "n"}});
    h.element("td", fmt_fixed(c.recall, 3), {{"class", "n"}});
    h.open("td").raw(share_bar_svg(c.recall)).close("td");
    h.element("td", fmt_fixed(c.f1, 3), {{"class", "n"}}).element("td", fmt_fixed(c.roc_auc, 3), {{"class", "n"}});
    h.element("td", std::to_string(c.support), {{"class", "n"}}).close("tr");
  }
  h.raw("</tbody></table>");
  h.element("h3", "Per source");
  if (e.per_group.empty()) {
    h.element("p", "The data has no source column: one source only.", {{"class", "meta"}});
  } else {
    h.raw("<table><thead><tr><th>source, true class</th><th class=\"n\">correct</th><th class=\"n\">images</th>"
          "<th class=\"n\">accuracy</th><th></th><th>predicted as</th></tr></thead><tbody>");
    auto row = [&h](const std::string& name, int correct, int total, const std::string& predicted, bool sub) {
      const double acc = total ? static_cast<double>(correct) / total : NAN;
      h.open("tr").element("td", name, sub ? Attrs{{"class", "sub"}} : Attrs{});
      h.element("td", std::to_string(correct), {{"class", "n"}}).element("td", std::to_string(total), {{"class", "n"}});
      h.element("td", fmt_pct(acc), {{"class", "n"}});
      h.open("td").raw(share_bar_svg(acc, "#047857")).close("td").element("td", predicted).close("tr");
    };
    for (const auto& [g, ct] : e.per_group) {
      row(g, ct.first, ct.second, "", false);
      for (const GroupClassRow& c : group_class_rows(e, g)) {
        std::string predicted;  // the classes its images were taken for, those with any
        for (size_t p = 0; p < c.predicted.size(); ++p)
          if (c.predicted[p] > 0)
            predicted += (predicted.empty() ? "" : ", ") + e.classes[p].name + " " + std::to_string(c.predicted[p]);
        row(e.classes[static_cast<size_t>(c.cls)].name, c.correct, c.total, predicted, true);
      }
    }
    h.raw("</tbody></table>");
    h.element("p", "A source that is much easier than the others can mean the model reads where an image came from "
                   "(markers, scanners) rather than the lungs; so can a source whose images of one class are all "
                   "taken for another.",
              {{"class", "meta"}});
  }
  source_auc(h, e);
  calibration_section(h, e);
  h.close("section");
}

void gallery(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "gallery"}}).element("h2", "Where the model looked");
  int mistakes = 0;
  for (const auto& g : d.gallery) mistakes += g.mistake() ? 1 : 0;
  h.element("p",
            std::to_string(d.gallery.size()) + " test images, mistakes first (" + std::to_string(mistakes) +
                "), grouped by true and predicted class. Each shows the image, the " + d.gallery_method +
                " map of the predicted class" + (d.gallery_layer.empty() ? "" : " at " + d.gallery_layer) +
                " over it, and guided Grad-CAM (pixel-level evidence). Source: " +
                d.gallery_source + ".",
            {{"class", "lead"}});
  if (d.gallery.empty()) h.element("p", "No images.", {{"class", "meta"}});
  std::string current;
  bool open_grid = false;
  for (const auto& g : d.gallery) {
    std::string key = g.mistake() ? "m" : "c";
    key += std::to_string(g.label);
    key += '/';
    if (g.mistake()) key += std::to_string(g.predicted);
    if (key != current) {
      if (open_grid) h.close("div");
      current = key;
      h.open("div", {{"class", "group"}});
      if (g.mistake()) {
        h.element("span", "mistake", {{"class", "pill bad"}})
            .text("true " + class_name(d, g.label) + " \xE2\x86\x92 predicted " + class_name(d, g.predicted));
      } else if (g.label >= 0) {
        h.element("span", "correct", {{"class", "pill ok"}}).text(class_name(d, g.label));
      } else {
        h.element("span", "unlabelled", {{"class", "pill info"}}).text("predicted " + class_name(d, g.predicted));
      }
      h.close("div").open("div", {{"class", "gallery"}});
      open_grid = true;
    }
    h.open("div", {{"class", g.mistake() ? "item mistake" : "item"}}).open("div", {{"class", "trio"}});
    const std::string name = basename(g.path);
    img_or_missing(h, g.original_uri, name, "image");
    img_or_missing(h, g.overlay_uri, name + " " + d.gallery_method, g.degenerate ? "flat map" : d.gallery_method);
    img_or_missing(h, g.guided_uri, name + " guided Grad-CAM", "guided Grad-CAM");
    h.close("div");
    h.element("div", name, {{"class", "name mono"}, {"title", g.path}});
    std::string meta = "true " + class_name(d, g.label) + " \xC2\xB7 predicted " + class_name(d, g.predicted) +
                       " (p = " + fmt_fixed(g.probability, 3) + ")";
    if (!g.source.empty()) meta += " \xC2\xB7 " + g.source;
    h.element("div", meta, {{"class", "meta"}});
    if (!g.note.empty()) h.element("div", g.note, {{"class", "meta"}});
    h.close("div");
  }
  if (open_grid) h.close("div");
  h.close("section");
}

// One row per xai-eval file (method, layer): the headline numbers side by side. The marker column counts the
// rows whose manifest source is `synth-marker` (cxr synth --shortcut-rate): how many planted shortcuts each
// method's maps expose.
void methods_compared(Html& h, const ReportData& d) {
  if (d.xai_compare.size() < 2) return;
  h.element("h3", "Methods compared");
  h.raw("<table><thead><tr><th>method</th><th>layer</th><th class=\"n\">images</th>"
        "<th class=\"n\">lesion: pointing game</th><th class=\"n\">lesion: energy share</th>"
        "<th class=\"n\">deletion AUC</th><th class=\"n\">insertion AUC</th><th class=\"n\">Average Drop %</th>"
        "<th class=\"n\">shortcut flags</th><th class=\"n\">marker images flagged</th></tr></thead><tbody>");
  for (const XaiReport& x : d.xai_compare) {
    const LocalizationSummary* les = localization_of(x, "lesion", "all");
    const FaithfulnessSummary& f = x.faithfulness;
    const bool faith = f.images > 0;
    // Over every row of the file (failed and flat ones too), not XaiReport::marker_images.
    int64_t markers = 0, marker_flags = 0;
    for (const XaiImageRow& r : x.rows) {
      if (r.source != "synth-marker") continue;
      ++markers;
      if (r.shortcut.flagged) ++marker_flags;
    }
    h.open("tr").element("td", method_name(x.method))
        .element("td", x.layer)
        .element("td", std::to_string(x.rows.size()), {{"class", "n"}})
        .element("td", fmt_pct(lesion_pointing_game(x)), {{"class", "n"}})
        .element("td", fmt_pct(les ? les->energy : NAN), {{"class", "n"}})
        .element("td", faith ? fmt_fixed(f.deletion_auc, 3) : "\xE2\x80\x93", {{"class", "n"}})
        .element("td", faith ? fmt_fixed(f.insertion_auc, 3) : "\xE2\x80\x93", {{"class", "n"}})
        .element("td", faith ? fmt_fixed(f.average_drop, 1) : "\xE2\x80\x93", {{"class", "n"}})
        .element("td", std::to_string(x.flagged), {{"class", "n"}})
        .element("td", markers > 0 ? std::to_string(marker_flags) + " of " + std::to_string(markers) : "\xE2\x80\x93",
                 {{"class", "n"}})
        .close("tr");
  }
  h.raw("</tbody></table>");
  h.element("p", "The first row is the method detailed below and behind the shortcut finder's section; each row "
                 "is one cxr xai-eval --json file.",
            {{"class", "meta"}});
}

void xai_section(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "xai"}}).element("h2", "Can the explanations be trusted?");
  if (!d.xai) {
    h.element("p", "Explanation metrics were not computed for this report.", {{"class", "lead"}});
    h.close("section");
    return;
  }
  const XaiReport& x = *d.xai;
  h.element("p",
            std::string(method_name(x.method)) + " at " + x.layer + ", explaining the " +
                (x.target == "true" ? "true" : "predicted") + " class of " + std::to_string(x.rows.size()) +
                " images (" + std::to_string(x.degenerate) + " flat maps, " + std::to_string(x.failed) +
                " failed). Source: " + d.xai_source + ".",
            {{"class", "lead"}});
  methods_compared(h, d);
  const FaithfulnessSummary& f = x.faithfulness;
  if (f.images > 0) {
    h.element("h3", "Faithfulness: does the confidence depend on the highlighted pixels?");
    h.open("div", {{"class", "metrics"}});
    metric(h, "deletion AUC (lower is better)", fmt_fixed(f.deletion_auc, 3));
    metric(h, "insertion AUC (higher is better)", fmt_fixed(f.insertion_auc, 3));
    metric(h, "Average Drop % (lower is better)", fmt_fixed(f.average_drop, 1));
    metric(h, "Increase in Confidence % (higher)", fmt_fixed(f.increase_in_confidence, 1));
    h.close("div");
    // Mean deletion / insertion curves over the images that have them.
    std::vector<double> del, ins;
    int n = 0;
    for (const XaiImageRow& r : x.rows) {
      if (!r.faithfulness) continue;
      const std::vector<float>& dl = r.faithfulness->deletion;
      const std::vector<float>& il = r.faithfulness->insertion;
      if (dl.empty() || dl.size() != il.size()) continue;
      if (del.empty()) del.assign(dl.size(), 0.0), ins.assign(il.size(), 0.0);
      if (dl.size() != del.size()) continue;
      for (size_t k = 0; k < dl.size(); ++k) del[k] += dl[k], ins[k] += il[k];
      ++n;
    }
    if (n > 0 && del.size() > 1) {
      std::vector<double> fx;
      for (size_t k = 0; k < del.size(); ++k) {
        fx.push_back(static_cast<double>(k) / static_cast<double>(del.size() - 1));
        del[k] /= n;
        ins[k] /= n;
      }
      LinePlot cp;
      cp.x_label = "fraction of pixels deleted / inserted (most salient first)";
      cp.y_label = "probability of the class";
      cp.x_min = cp.y_min = 0;
      cp.x_max = cp.y_max = 1;
      cp.width = 560;
      cp.series = {{"deletion", fx, del, series_color(1), false, false},
                   {"insertion", fx, ins, series_color(0), false, false}};
      h.open("figure").raw(line_chart_svg(cp))
          .element("figcaption", "Mean deletion and insertion curves over " + std::to_string(n) +
                                     " images (deletion: pixels set to the " +
                                     baseline_name(x.faithfulness_options.deletion_baseline) +
                                     " baseline; insertion: starting from a " +
                                     baseline_name(x.faithfulness_options.insertion_baseline) + " copy)")
          .close("figure");
    }
  }
  h.element("h3", "Localisation: does the map point at the lesion?");
  if (x.localization.empty()) {
    h.element("p", "No lesion or lung masks were available for these images.", {{"class", "meta"}});
  } else {
    std::vector<std::string> groups = {"all"};
    for (const auto& c : d.classes) groups.push_back(c);
    h.raw("<table><thead><tr><th>images</th><th class=\"n\">lesion: pointing game</th><th class=\"n\">hits / scored</th>"
          "<th class=\"n\">lesion: energy share</th><th class=\"n\">lung: pointing game</th>"
          "<th class=\"n\">lung: energy share</th></tr></thead><tbody>");
    for (const auto& g : groups) {
      const LocalizationSummary* les = localization_of(x, "lesion", g);
      const LocalizationSummary* lun = localization_of(x, "lung", g);
      if (!les && !lun) continue;
      h.open("tr").element("td", g == "all" ? "all" : "true " + g);
      h.element("td", fmt_pct(les ? les->pointing : NAN), {{"class", "n"}});
      h.element("td", les ? std::to_string(les->hits) + " / " + std::to_string(les->scored) : "\xE2\x80\x93",
                {{"class", "n"}});
      h.element("td", fmt_pct(les ? les->energy : NAN), {{"class", "n"}});
      h.element("td", fmt_pct(lun ? lun->pointing : NAN), {{"class", "n"}});
      h.element("td", fmt_pct(lun ? lun->energy : NAN), {{"class", "n"}}).close("tr");
    }
    h.raw("</tbody></table>");
    h.element("p", "Pointing game: the map's maximum lies on the mask (within " +
                       std::to_string(default_pointing_tolerance(x.input_size)) +
                       " px at the model input). Energy share: the part of the map inside the mask. Images without a "
                       "lesion (NORMAL) are not scored on lesions.",
              {{"class", "meta"}});
  }
  if (x.sanity) {
    h.element("h3", "Sanity check (cascading randomisation)");
    const bool passed = x.sanity->passed;
    h.open("p").element("span", passed ? "passed" : "FAILED", {{"class", passed ? "pill ok" : "pill bad"}})
        .text(" " + x.sanity->verdict)
        .close("p");
  }
  h.close("section");
}

void shortcuts(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "shortcuts"}}).element("h2", "Shortcut finder");
  if (!d.xai) {
    h.element("p", "Not computed.", {{"class", "lead"}}).close("section");
    return;
  }
  const XaiReport& x = *d.xai;
  h.element("p",
            "Images whose explanation sits outside the lungs in the border band (" +
                std::to_string(x.shortcut_band) +
                " px at the model input), where burned-in markers and text live: a model that reads them has "
                "learnt a shortcut, not the disease. " +
                std::to_string(x.flagged) + " of " + std::to_string(x.rows.size()) +
                " explained images are flagged.",
            {{"class", "lead"}});
  if (!d.flagged.empty()) {
    h.open("div", {{"class", "gallery"}});
    for (size_t i = 0; i < d.flagged.size(); ++i) {
      const FlaggedItem& f = d.flagged[i];
      if (f.original_uri.empty() && f.overlay_uri.empty()) continue;
      const std::string name = basename(f.path);
      h.open("div", {{"class", "item mistake"}}).open("div", {{"class", "duo"}});
      img_or_missing(h, f.original_uri, name, "image");
      img_or_missing(h, f.overlay_uri, name + " map", "map of " + f.target);
      h.close("div").element("div", name, {{"class", "name mono"}, {"title", f.path}});
      h.element("div", "suspect share " + fmt_pct(f.suspect) + " \xC2\xB7 border " + fmt_pct(f.border) +
                           " \xC2\xB7 outside lungs " + fmt_pct(f.outside_lung),
                {{"class", "meta"}});
      h.element("div", "true " + (f.label.empty() ? std::string("?") : f.label) + " \xC2\xB7 explained " + f.target +
                           (f.source.empty() ? "" : " \xC2\xB7 " + f.source),
                {{"class", "meta"}});
      h.close("div");
    }
    h.close("div");
  }
  // The ranking's top rows, flagged or not.
  if (!x.shortcut_ranking.empty()) {
    h.element("h3", "Most suspect images");
    h.raw("<table><thead><tr><th>file</th><th>true</th><th>explained</th><th class=\"n\">suspect share</th>"
          "<th class=\"n\">border</th><th class=\"n\">outside lungs</th><th>flagged</th></tr></thead><tbody>");
    for (size_t i = 0; i < x.shortcut_ranking.size() && i < 10; ++i) {
      const XaiImageRow& r = x.rows[x.shortcut_ranking[i]];
      h.open("tr").open("td").element("span", basename(r.path), {{"class", "mono"}, {"title", r.path}}).close("td");
      h.element("td", xai_class(x, r.label)).element("td", xai_class(x, r.target));
      h.element("td", fmt_pct(r.shortcut.suspect), {{"class", "n"}}).element("td", fmt_pct(r.shortcut.border), {{"class", "n"}});
      h.element("td", fmt_pct(r.shortcut.outside_lung), {{"class", "n"}});
      h.open("td");
      if (r.shortcut.flagged) h.element("span", "flagged", {{"class", "pill bad"}});
      h.close("td").close("tr");
    }
    h.raw("</tbody></table>");
  }
  h.close("section");
}

void model_section(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "model"}}).element("h2", "Model");
  if (!d.has_summary) {
    h.element("p", "No summary.", {{"class", "lead"}}).close("section");
    return;
  }
  const ModelSummary& s = d.summary;
  h.element("p", s.model + ": " + s.config, {{"class", "lead"}});
  h.open("div", {{"class", "metrics"}});
  metric(h, "parameters", fmt_int(s.total_params));
  metric(h, "multiply-adds per image", fmt_int(s.total_macs));
  metric(h, "input", to_string(s.input));
  metric(h, "activations per image", fmt_bytes(static_cast<double>(s.activation_bytes)));
  h.close("div");
  h.open("details").element("summary", "Layer by layer (" + std::to_string(s.rows.size()) + " layers)");
  h.raw("<table><thead><tr><th>layer</th><th>alias</th><th>type</th><th>output</th><th class=\"n\">parameters</th>"
        "<th class=\"n\">multiply-adds</th></tr></thead><tbody>");
  for (const auto& r : s.rows) {
    h.open("tr").open("td").element("code", r.name).close("td").element("td", r.alias);
    h.element("td", r.describe.empty() ? r.type : r.describe).element("td", to_string(r.output));
    h.element("td", fmt_int(r.params), {{"class", "n"}}).element("td", fmt_int(r.macs), {{"class", "n"}}).close("tr");
  }
  h.raw("</tbody></table>");
  h.close("details").close("section");
}

void provenance(Html& h, const ReportData& d) {
  h.open("section", {{"class", "card"}, {"id", "provenance"}}).element("h2", "Configuration and provenance");
  h.open("div", {{"class", "grid2"}}).open("div");
  h.element("h3", "Checkpoint");
  h.open("table", {{"class", "kv"}});
  kv_row(h, "file", d.checkpoint, true);
  kv_row(h, "SHA-256", d.checkpoint_sha256, true);
  kv_row(h, "size", fmt_bytes(static_cast<double>(d.checkpoint_bytes)));
  kv_row(h, "classes", [&] {
    std::string s;
    for (const auto& c : d.classes) s += (s.empty() ? "" : ", ") + c;
    return s;
  }());
  kv_row(h, "epoch", d.meta.epoch >= 0 ? std::to_string(d.meta.epoch) : "unknown");
  kv_row(h, "optimizer step", d.meta.step >= 0 ? std::to_string(d.meta.step) : "unknown");
  kv_row(h, "seed", std::to_string(d.meta.seed));
  kv_row(h, "saved", d.meta.created.empty() ? "unknown" : d.meta.created);
  kv_row(h, "written by", d.meta.source.empty() ? "unknown" : d.meta.source);
  for (const auto& [k, v] : d.meta.metrics) kv_row(h, "metric: " + k, fmt_fixed(v, 4));
  h.close("table");
  h.element("h3", "Report");
  h.open("table", {{"class", "kv"}});
  kv_row(h, "cxr version", kCxrVersion);
  kv_row(h, "generated", d.generated);
  kv_row(h, "machine", d.machine_cpu);
  kv_row(h, "threads", std::to_string(d.threads) + " used, " + std::to_string(d.cores) + " cores");
  kv_row(h, "run folder", d.run_dir, true);
  kv_row(h, "data", d.data + " (" + d.split + " split)", true);
  h.close("table");
  if (d.state.is_object()) {
    h.element("h3", "Run state (state.json)");
    h.open("table", {{"class", "kv"}});
    for (const auto& [k, v] : d.state.items()) kv_row(h, k, jtext(v));
    h.close("table");
  }
  h.close("div").open("div");
  h.element("h3", "Training configuration (config.json)");
  if (d.config.is_object()) {
    h.open("table", {{"class", "kv"}});
    for (const auto& [k, v] : d.config.items()) kv_row(h, k, jtext(v));
    h.close("table");
  } else {
    h.element("p", "Not available.", {{"class", "meta"}});
  }
  h.close("div").close("div").close("section");
}

}  // namespace

std::string render_report(const ReportData& d) {
  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<meta name=\"generator\" content=\"cxr report\">");
  h.element("title", d.title);
  h.raw("<style>").raw(kCss).raw("</style></head><body>");
  header(h, d);
  h.open("main").open("div", {{"class", "wrap"}});
  if (!d.notes.empty()) {
    h.open("div", {{"class", "note"}}).element("strong", "Notes: ");
    for (size_t i = 0; i < d.notes.size(); ++i) h.text((i ? "; " : "") + d.notes[i]);
    h.close("div");
  }
  training(h, d);
  results(h, d);
  gallery(h, d);
  xai_section(h, d);
  shortcuts(h, d);
  model_section(h, d);
  provenance(h, d);
  h.close("div").close("main");
  h.open("footer").text("cxr " + std::string(kCxrVersion) + " \xC2\xB7 " + d.generated + " \xC2\xB7 ");
  h.raw("<span id=\"img-check\" data-decoded=\"-1\">images not checked (no script)</span>");
  h.close("footer");
  h.raw(kScript).raw("</body></html>\n");
  return h.take();
}

}  // namespace cxr::report
