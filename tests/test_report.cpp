// report/: HTML escaping and base64 (known vectors), SVG chart geometry (points computed by hand from the
// documented layout), gallery selection, and a whole report over a hand-made run folder: sections present,
// numbers consistent with the data, and a file named "<script>alert(1)</script>.png" shown as text only.
#include <gtest/gtest.h>

#include <cmath>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "core/atomic_file.h"
#include "core/threading.h"
#include "data/dataset.h"
#include "error_of.h"
#include "explain/sha256.h"
#include "image/image.h"
#include "report/html.h"
#include "report/report.h"
#include "report/svg_plot.h"
#include "report_fixture.h"
#include "train/metrics.h"

namespace fs = std::filesystem;
using namespace cxr;
using namespace cxr::report;

namespace {

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

// Base64 decoding, written independently of the encoder under test.
std::vector<uint8_t> unbase64(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) break;  // '=' padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 255));
    }
  }
  return out;
}

}  // namespace

TEST(Html, EscapesTheFiveCharacters) {
  EXPECT_EQ(html_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(html_escape("plain text 123 \xC3\xA9"), "plain text 123 \xC3\xA9");  // UTF-8 passes untouched
  EXPECT_EQ(html_escape("&amp;"), "&amp;amp;");                                  // no double-decoding
  EXPECT_EQ(html_escape(""), "");
}

TEST(Html, BuilderEscapesTextAndAttributes) {
  Html h;
  h.open("div", {{"title", "a\"b<c>"}}).text("1 < 2 & 3").close("div").raw("<br>");
  EXPECT_EQ(h.str(), "<div title=\"a&quot;b&lt;c&gt;\">1 &lt; 2 &amp; 3</div><br>");
  Html e;
  e.element("td", "<img src=x onerror=alert(1)>");
  EXPECT_EQ(e.str(), "<td>&lt;img src=x onerror=alert(1)&gt;</td>");
}

TEST(Html, Base64KnownVectors) {  // RFC 4648, section 10
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Html, NumberFormats) {
  EXPECT_EQ(fmt_pct(0.97345), "97.3%");
  EXPECT_EQ(fmt_fixed(NAN, 2), "\xE2\x80\x93");
  EXPECT_EQ(fmt_int(14714688), "14\xE2\x80\x89" "714\xE2\x80\x89" "688");
  EXPECT_EQ(fmt_int(999), "999");
  EXPECT_EQ(fmt_bytes(1536), "1.5 KiB");
}

TEST(SvgPlot, NiceTicks) {
  auto near = [](const std::vector<double>& a, const std::vector<double>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << i;
  };
  near(nice_ticks(0, 1), {0, 0.2, 0.4, 0.6, 0.8, 1.0});
  near(nice_ticks(0.31, 0.97), {0.2, 0.4, 0.6, 0.8, 1.0});
  near(nice_ticks(1, 13), {0, 5, 10, 15});
  near(nice_ticks(-0.05, 0.05), {-0.06, -0.04, -0.02, 0, 0.02, 0.04, 0.06});
  EXPECT_FALSE(nice_ticks(2, 2).empty());  // a single value still gets a range
}

TEST(SvgPlot, KnownCurveLandsWhereTheLayoutSays) {
  // 480 x 300 chart: plotting area x in [52, 466], y in [12, 258] (kLeft 52, kRight 14, kTop 12, kBottom 42).
  LinePlot p;
  p.width = 480;
  p.height = 300;
  p.x_min = p.y_min = 0;
  p.x_max = p.y_max = 1;
  Series s;
  s.x = {0, 0.5, 1};
  s.y = {0, 0.25, 1};
  p.series = {s};
  const PlotFrame f = plot_frame(p);
  EXPECT_DOUBLE_EQ(f.left, 52);
  EXPECT_DOUBLE_EQ(f.right, 466);
  EXPECT_DOUBLE_EQ(f.top, 12);
  EXPECT_DOUBLE_EQ(f.bottom, 258);
  // (0.5, 0.25): x = 52 + 0.5 * 414 = 259, y = 258 - 0.25 * 246 = 196.5.
  EXPECT_EQ(path_data(s, f), "M52.0 258.0L259.0 196.5L466.0 12.0");
  const std::string svg = line_chart_svg(p);
  EXPECT_NE(svg.find("d=\"M52.0 258.0L259.0 196.5L466.0 12.0\""), std::string::npos);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  // A non-finite point breaks the line.
  Series gap;
  gap.x = {0, 0.5, 1};
  gap.y = {0, NAN, 1};
  EXPECT_EQ(path_data(gap, f), "M52.0 258.0M466.0 12.0");
}

TEST(SvgPlot, AutomaticRangesRoundToNiceTicks) {
  LinePlot p;  // accuracy over 5 epochs, 0.31 .. 0.97
  p.integer_x = true;
  Series s;
  s.x = {1, 2, 3, 4, 5};
  s.y = {0.31, 0.6, 0.8, 0.9, 0.97};
  p.series = {s};
  const PlotFrame f = plot_frame(p);
  EXPECT_DOUBLE_EQ(f.x0, 1);  // epochs: exactly first..last
  EXPECT_DOUBLE_EQ(f.x1, 5);
  EXPECT_NEAR(f.y0, 0.2, 1e-12);
  EXPECT_NEAR(f.y1, 1.0, 1e-12);
  // Epoch 1 (0.31): x = 52, y = 258 - 0.11 / 0.8 * 246 = 224.175; epoch 2 (0.6): x = 52 + 0.25 * 414 = 155.5,
  // y = 258 - 0.5 * 246 = 135; epoch 3 (0.8): x = 259, y = 258 - 0.75 * 246 = 73.5.
  EXPECT_EQ(path_data(s, f).substr(0, 34), "M52.0 224.2L155.5 135.0L259.0 73.5");
  EXPECT_NEAR(f.py(0.6), 135.0, 1e-9);
}

TEST(SvgPlot, ConfusionHeatmapShowsCountsAndEscapesNames) {
  const std::string svg = confusion_svg({{5, 1}, {0, 7}}, {"A&B", "<b>x"});
  EXPECT_NE(svg.find("A&amp;B"), std::string::npos);
  EXPECT_NE(svg.find("&lt;b&gt;x"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  for (const char* n : {">5<", ">1<", ">0<", ">7<", ">83%<", ">17%<", ">100%<"})
    EXPECT_NE(svg.find(n), std::string::npos) << n;
}

TEST(Report, GalleryPicksMistakesFirst) {
  //            0  1  2  3  4  5  6
  std::vector<int> labels = {0, 0, 1, 1, 2, 2, 0};
  std::vector<int> pred = {0, 1, 1, 0, 2, 2, 1};
  std::vector<float> conf = {.9f, .6f, .8f, .7f, .9f, .5f, .95f};
  // Mistakes: 1 and 6 (0 -> 1; 6 more confident), 3 (1 -> 0); then correct ones round-robin over classes.
  EXPECT_EQ(pick_gallery(labels, pred, conf, 5), (std::vector<size_t>{6, 1, 3, 0, 2}));
  // Round-robin takes one of each kind of mistake before a second of any.
  EXPECT_EQ(pick_gallery(labels, pred, conf, 2), (std::vector<size_t>{6, 3}));
  EXPECT_EQ(pick_gallery(labels, pred, conf, 100).size(), 7u);
  EXPECT_TRUE(pick_gallery(labels, pred, conf, 0).empty());
}

TEST(Report, EvalJsonRoundTrip) {
  const EvalReport r = evaluate({{0.9f, 0.1f}, {0.2f, 0.8f}, {0.6f, 0.4f}, {0.3f, 0.7f}}, {0, 1, 1, 1}, {"a", "b"},
                                {"s1", "s1", "s2", "s2"});
  const EvalReport back = eval_from_json(to_json(r));
  EXPECT_EQ(back.count, 4);
  EXPECT_DOUBLE_EQ(back.accuracy, 0.75);
  EXPECT_EQ(back.confusion, r.confusion);
  ASSERT_EQ(back.classes.size(), 2u);
  EXPECT_EQ(back.classes[1].name, "b");
  EXPECT_DOUBLE_EQ(back.classes[1].recall, 2.0 / 3.0);
  EXPECT_EQ(back.roc[0].fpr, r.roc[0].fpr);
  EXPECT_EQ(back.per_group.at("s2"), (std::pair<int, int>{1, 2}));
  EXPECT_EQ(back.group_confusion.at("s2"), (std::vector<std::vector<int>>{{0, 0}, {1, 1}}));
  EXPECT_EQ(back.group_confusion, r.group_confusion);
  // Calibration, temperature, intervals and the per-source AUC come back as written.
  EvalReport named = evaluate({{0.9f, 0.1f}, {0.2f, 0.8f}, {0.6f, 0.4f}, {0.3f, 0.7f}}, {0, 1, 1, 0},
                              {"NORMAL", "PNEUMONIA"}, {"s1", "s1", "s2", "s2"});
  named.temperature = 1.25;
  named.temperature_from = "stored in the checkpoint";
  named.bootstrap.resamples = 100;
  named.bootstrap.seed = 9;
  named.bootstrap.by_patient = true;
  named.bootstrap.units = 4;
  named.bootstrap.intervals["accuracy"] = {0.25, 1.0, 100};
  named.bootstrap.intervals["source_auc/s1"] = {0, 0, 0};
  const EvalReport nb = eval_from_json(to_json(named));
  EXPECT_EQ(nb.calibration.bins, 15);
  EXPECT_DOUBLE_EQ(nb.calibration.ece, named.calibration.ece);
  EXPECT_DOUBLE_EQ(nb.calibration.mce, named.calibration.mce);
  ASSERT_EQ(nb.calibration.reliability.size(), 15u);
  for (size_t b = 0; b < 15; ++b) {
    EXPECT_EQ(nb.calibration.reliability[b].count, named.calibration.reliability[b].count) << b;
    EXPECT_DOUBLE_EQ(nb.calibration.reliability[b].accuracy, named.calibration.reliability[b].accuracy) << b;
  }
  EXPECT_DOUBLE_EQ(nb.temperature, 1.25);
  EXPECT_EQ(nb.temperature_from, "stored in the checkpoint");
  EXPECT_EQ(nb.bootstrap.resamples, 100);
  EXPECT_EQ(nb.bootstrap.seed, 9u);
  EXPECT_TRUE(nb.bootstrap.by_patient);
  EXPECT_DOUBLE_EQ(nb.bootstrap.intervals.at("accuracy").lo, 0.25);
  EXPECT_EQ(nb.bootstrap.intervals.at("source_auc/s1").defined, 0);
  EXPECT_DOUBLE_EQ(nb.group_auc.at("s1"), 1.0);
  EXPECT_TRUE(std::isnan(nb.group_auc.at("s2")) == std::isnan(named.group_auc.at("s2")));
  nlohmann::json short_row = to_json(r);
  short_row["per_source"]["s2"]["confusion"] = {{0, 0}, {1}};  // a row cut short: refused, not read past
  try {
    eval_from_json(short_row);
    FAIL() << "a 2 x 2 confusion with a short row was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("per_source.s2.confusion is not a 2 x 2 table"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(eval_from_json(nlohmann::json{{"x", 1}}), Error);
}

TEST(Report, ThumbnailKeepsAspectAndDecodes) {
  Tensor img = Tensor::zeros({1, 100, 300});
  for (int64_t i = 0; i < 100 * 300; ++i) img[i] = static_cast<float>(i % 300) / 299.0f;
  const std::string uri = thumbnail_uri(img, 150);
  ASSERT_EQ(uri.rfind("data:image/png;base64,", 0), 0u);
  const image::Image back = image::decode_image(unbase64(uri.substr(22)), "thumbnail");
  EXPECT_EQ(back.width(), 150);
  EXPECT_EQ(back.height(), 50);
  EXPECT_EQ(back.channels(), 1);  // gray stays gray
  EXPECT_NEAR(back.pixels[49 * 150 + 149], 1.0f, 0.02f);  // the right edge is white
  EXPECT_NEAR(back.pixels[0], 0.0f, 0.02f);
}

TEST(Report, WholeReportOverAHandMadeRun) {
  set_num_threads(1);
  const auto fx = report_test::make_report_fixture("cxr_test_report");
  ReportOptions o;
  o.run_dir = fx.run;
  o.data = fx.data;
  o.samples = 100;    // every test image, the evil one included
  o.xai_images = 100;
  o.batch = 4;
  const std::string out = fx.root + "/out/report.html";
  const ReportData d = write_report(o, out);
  const std::string html = cxr::read_file(out);

  // Sections and their content.
  for (const char* id : {"training", "results", "gallery", "xai", "shortcuts", "model", "provenance"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find(sha256_file(fx.checkpoint)), std::string::npos);
  EXPECT_NE(html.find("0.1.0"), std::string::npos);
  EXPECT_NE(html.find("2024-05-01T12:00:00Z"), std::string::npos);  // checkpoint date
  EXPECT_NE(html.find(cpu_model()), std::string::npos);
  EXPECT_GE(count_of(html, "<svg"), 5u);  // loss, accuracy, confusion, ROC, reliability
  EXPECT_NE(html.find("Reliability diagram: top-label confidence in 15 equal-width bins"), std::string::npos);
  EXPECT_NE(html.find("No temperature scaling applied."), std::string::npos);
  EXPECT_NE(html.find("expected calibration error"), std::string::npos);
  // The test split: 3 images per class + the evil one, all evaluated and all in the gallery.
  EXPECT_EQ(d.split, "test");
  EXPECT_EQ(d.eval.count, fx.test_images);
  int total = 0;
  for (const auto& row : d.eval.confusion)
    for (int v : row) total += v;
  EXPECT_EQ(total, fx.test_images);
  EXPECT_EQ(static_cast<int>(d.gallery.size()), fx.test_images);
  for (size_t i = 1; i < d.gallery.size(); ++i)  // mistakes first
    EXPECT_FALSE(!d.gallery[i - 1].mistake() && d.gallery[i].mistake()) << i;
  for (const auto& g : d.gallery) {
    EXPECT_FALSE(g.original_uri.empty()) << g.path;
    EXPECT_FALSE(g.overlay_uri.empty()) << g.path;
    EXPECT_FALSE(g.guided_uri.empty()) << g.path;
  }
  EXPECT_EQ(count_of(html, "<img "), 3u * d.gallery.size() + 2u * d.flagged.size());
  EXPECT_EQ(count_of(html, "data:image/png;base64,"), count_of(html, "<img "));
  // Per-source table with the manifest's sources.
  EXPECT_EQ(d.eval.per_group.size(), 3u);  // synth, synth-marker, the evil one
  // ... and under each source a row per true class it holds (counted from the manifest's test rows), with
  // what those images were predicted as.
  std::set<std::pair<std::string, std::string>> source_class;
  for (const auto& s : data::select_split(data::open_dataset(fx.data), "test").samples)
    source_class.insert({s.source, std::to_string(s.label)});
  EXPECT_GE(source_class.size(), 4u);  // synth's classes, the marker's COVID19, the evil one
  EXPECT_EQ(count_of(html, "<td class=\"sub\">"), source_class.size());
  // Explanation metrics were computed on all test images, with masks.
  ASSERT_TRUE(d.xai.has_value());
  EXPECT_EQ(d.xai->rows.size(), static_cast<size_t>(fx.test_images));
  EXPECT_NE(html.find("Pointing game"), std::string::npos);
  // History values appear in the training section text (epoch 3 had the lowest val_loss, 0.7).
  EXPECT_NE(html.find("lowest validation loss 0.7000 at epoch 3"), std::string::npos);

  // Escaping: the evil path, its source and a config string show as text; no raw markup of theirs.
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;.png"), std::string::npos);
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_NE(html.find("&lt;i&gt;evil&lt;/i&gt;&amp;co"), std::string::npos);
  EXPECT_EQ(html.find("<i>evil"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;weights&lt;/b&gt;.safetensors"), std::string::npos);
  EXPECT_EQ(html.find("<b>weights"), std::string::npos);
  // The page's own script is the only one.
  EXPECT_EQ(count_of(html, "<script"), 1u);
  EXPECT_EQ(count_of(html, "http://") + count_of(html, "https://"), count_of(html, "http://www.w3.org/2000/svg"));

  // Reading metrics from files instead gives the same headline numbers.
  cxr::write_file_atomic(fx.root + "/eval.json", to_json(d.eval).dump());
  const nlohmann::json xai = to_json(*d.xai);
  cxr::write_file_atomic(fx.root + "/xai.json", xai.dump());
  ReportOptions o2 = o;
  o2.eval_json = fx.root + "/eval.json";
  o2.metrics_json = fx.root + "/xai.json";
  o2.samples = 2;
  const ReportData d2 = write_report(o2, fx.root + "/out/report2.html");
  EXPECT_DOUBLE_EQ(d2.eval.accuracy, d.eval.accuracy);
  EXPECT_EQ(d2.eval.confusion, d.eval.confusion);
  EXPECT_EQ(d2.flagged_count(), d.flagged_count());
  EXPECT_EQ(d2.eval_source, o2.eval_json);
  EXPECT_EQ(d2.gallery.size(), 2u);
  ASSERT_EQ(d2.flagged.size(), d.flagged.size());
  for (size_t i = 0; i < d.flagged.size(); ++i) EXPECT_EQ(d2.flagged[i].path, d.flagged[i].path) << i;
  for (const auto& n : d2.notes) EXPECT_EQ(n.find("target layers"), std::string::npos) << n;
  // A file from before the layers' names were recorded: its flagged images are drawn at the report's own
  // layer, and the page says so (the display string is not parsed apart). One image flagged by hand, to draw.
  nlohmann::json old = xai;
  old.erase("layers");
  for (auto& r : old["rows"])
    if (r.contains("shortcut")) {  // an explained image, in the ranking
      r["shortcut"]["flagged"] = true;
      break;
    }
  cxr::write_file_atomic(fx.root + "/xai_old.json", old.dump());
  ReportOptions o_old = o2;
  o_old.metrics_json = fx.root + "/xai_old.json";
  const ReportData d_old = write_report(o_old, fx.root + "/out/report_old.html");
  EXPECT_TRUE(d_old.xai->layers.empty());
  ASSERT_EQ(d_old.flagged.size(), d.flagged.size() + 1);
  EXPECT_FALSE(d_old.flagged[0].overlay_uri.empty());
  bool noted = false;
  for (const auto& n : d_old.notes)
    noted = noted || n.find("records its target layers only as display text") != std::string::npos;
  EXPECT_TRUE(noted);

  // A second method's metrics: one comparison row each, with its own numbers and its marker flags.
  nlohmann::json other = xai;
  other["method"] = "hirescam";
  other["localization"]["lesion"]["all"]["pointing_game"] = 0.1234;
  int markers = 0;
  for (auto& r : other["rows"])
    if (r.value("source", std::string()) == "synth-marker") {
      r["shortcut"]["flagged"] = markers++ == 0;  // exactly one marker image flagged
    }
  ASSERT_GT(markers, 0) << "the fixture has no synth-marker images";
  cxr::write_file_atomic(fx.root + "/xai_other.json", other.dump());
  o2.compare_metrics_json = {fx.root + "/xai_other.json"};
  const ReportData d3 = write_report(o2, fx.root + "/out/report3.html");
  ASSERT_EQ(d3.xai_compare.size(), 2u);
  const std::string html3 = cxr::read_file(fx.root + "/out/report3.html");
  EXPECT_NE(html3.find("Methods compared"), std::string::npos);
  EXPECT_NE(html3.find("<td>hirescam</td>"), std::string::npos);
  EXPECT_NE(html3.find("12.3%"), std::string::npos);
  EXPECT_NE(html3.find(str("1 of ", markers)), std::string::npos);
  EXPECT_EQ(html.find("Methods compared"), std::string::npos);  // one method: no comparison table
  // A file that is not xai-eval output is named in the error.
  cxr::write_file_atomic(fx.root + "/not_xai.json", "{\"accuracy\": 1}");
  o2.compare_metrics_json = {fx.root + "/not_xai.json"};
  try {
    write_report(o2, fx.root + "/out/report4.html");
    ADD_FAILURE() << "a non-xai-eval JSON was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not_xai.json"), std::string::npos) << e.what();
  }
  // A malformed one: the file's name, then what is wrong and where.
  nlohmann::json broken = xai;
  broken["rows"][0]["probability"] = "high";
  cxr::write_file_atomic(fx.root + "/broken_xai.json", broken.dump());
  o2.compare_metrics_json = {};
  o2.metrics_json = fx.root + "/broken_xai.json";
  EXPECT_EQ(error_of([&] { write_report(o2, fx.root + "/out/report5.html"); }),
            fx.root + "/broken_xai.json: 'rows[0].probability' is a string, expected a number or null");
  fs::remove_all(fx.root);
}

TEST(Report, ClearErrorsForMissingFiles) {
  set_num_threads(1);
  const auto fx = report_test::make_report_fixture("cxr_test_report_err");
  ReportOptions o;
  o.run_dir = fx.run;
  o.data = fx.data;
  o.samples = 0;
  o.xai_images = 0;
  auto message = [&](const ReportOptions& opt) {
    try {
      write_report(opt, fx.root + "/r.html");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ReportOptions bad = o;
  bad.run_dir = fx.root + "/nope";
  EXPECT_NE(message(bad).find("/nope: no such run folder"), std::string::npos) << message(bad);
  bad = o;
  bad.eval_json = fx.root + "/missing_eval.json";
  EXPECT_NE(message(bad).find("missing_eval.json: not found"), std::string::npos) << message(bad);
  fs::rename(fx.checkpoint, fx.root + "/moved.safetensors");
  EXPECT_NE(message(o).find("best.safetensors: not found"), std::string::npos) << message(o);
  fs::rename(fx.run + "/history.csv", fx.root + "/history.csv");
  EXPECT_NE(message(o).find("history.csv: not found"), std::string::npos) << message(o);
  EXPECT_FALSE(fs::exists(fx.root + "/r.html"));  // nothing half-written
  fs::remove_all(fx.root);
}

TEST(Report, CommandLine) {
  const auto fx = report_test::make_report_fixture("cxr_test_report_cli");
  auto run = [&](const std::string& args, std::string* err) {
    const std::string log = fx.root + "/cli.log";
    const std::string cmd = std::string("CXR_THREADS=1 ") + CXR_BINARY + " report " + args + " > /dev/null 2> " + log;
    const int rc = std::system(cmd.c_str());
    *err = cxr::read_file(log);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  std::string err;
  const std::string out = fx.root + "/cli/report.html";
  // --data defaults to the run's config.json "data".
  EXPECT_EQ(run("--run " + fx.run + " --samples 3 --xai-images 0 --out " + out, &err), 0) << err;
  const std::string html = cxr::read_file(out);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count_of(html, "<img "), 9u);  // 3 gallery images x (image, map, guided)
  EXPECT_NE(html.find("explanation metrics were not computed"), std::string::npos);
  fs::remove(fx.run + "/history.csv");
  EXPECT_EQ(run("--run " + fx.run + " --out " + out, &err), 1);
  EXPECT_NE(err.find("cxr report: error: " + fx.run + "/history.csv: not found"), std::string::npos) << err;
  EXPECT_EQ(run("--out " + out, &err), 2);  // usage: --run is required
  fs::remove_all(fx.root);
}
