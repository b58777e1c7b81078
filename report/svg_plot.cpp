#include "report/svg_plot.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>

#include "report/html.h"

namespace cxr::report {

namespace {

std::string num1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Decimals that show a tick step exactly enough: step 0.2 -> 1, 0.05 -> 2, 5 -> 0.
int tick_decimals(double step) {
  if (!(step > 0)) return 0;
  int d = 0;
  while (d < 6 && std::abs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-6) ++d;
  return d;
}

void data_range(const LinePlot& p, bool x_axis, double& lo, double& hi) {
  lo = INFINITY;
  hi = -INFINITY;
  for (const Series& s : p.series) {
    const auto& v = x_axis ? s.x : s.y;
    for (size_t i = 0; i < v.size() && i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
      }
  }
  if (!std::isfinite(lo)) {  // no data: a unit range
    lo = 0;
    hi = 1;
  }
}

double tick_step(const std::vector<double>& t) { return t.size() > 1 ? t[1] - t[0] : 1.0; }

// The ticks to draw on an axis whose range is [lo, hi] (already final).
std::vector<double> axis_ticks(double lo, double hi, bool integer) {
  std::vector<double> t = nice_ticks(lo, hi, 6), out;
  const double eps = (hi - lo) * 1e-9;
  for (double v : t) {
    if (v < lo - eps || v > hi + eps) continue;
    if (integer && std::abs(v - std::round(v)) > 1e-9) continue;
    out.push_back(v);
  }
  return out;
}

// Linear mix of two colours given as 0xRRGGBB, as "rgb(r,g,b)".
std::string mix(unsigned a, unsigned b, double s) {
  s = std::clamp(s, 0.0, 1.0);
  auto ch = [&](int shift) {
    const double ca = (a >> shift) & 255, cb = (b >> shift) & 255;
    return static_cast<int>(std::lround(ca + (cb - ca) * s));
  };
  char buf[40];
  std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", ch(16), ch(8), ch(0));
  return buf;
}

}  // namespace

const std::string& series_color(size_t i) {
  // Okabe & Ito's colour-blind-safe palette (its yellow left out: unreadable on white).
  static const std::vector<std::string> p = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                                             "#000000"};
  return p[i % p.size()];
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo > hi) std::swap(lo, hi);
  if (!(hi > lo)) {  // one value: a small range around it
    const double d = lo != 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= d;
    hi += d;
  }
  max_ticks = std::max(max_ticks, 2);
  const double raw = (hi - lo) / (max_ticks - 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm <= 1.0 + 1e-9 ? 1.0 : norm <= 2.0 + 1e-9 ? 2.0 : norm <= 5.0 + 1e-9 ? 5.0 : 10.0) * mag;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> t;
  for (double k = first; k <= last + 0.5; k += 1.0) {
    double v = k * step;
    if (std::abs(v) < step * 1e-9) v = 0.0;  // no "-0"
    t.push_back(v);
  }
  return t;
}

PlotFrame plot_frame(const LinePlot& p) {
  PlotFrame f;
  f.left = kLeft;
  f.top = kTop;
  f.right = p.width - kRight;
  f.bottom = p.height - kBottom;
  double xl, xh, yl, yh;
  data_range(p, true, xl, xh);
  data_range(p, false, yl, yh);
  if (p.integer_x) {  // epochs: exactly first..last
    if (!(xh > xl)) {
      xl -= 1;
      xh += 1;
    }
  } else {
    const auto t = nice_ticks(xl, xh);
    xl = t.front();
    xh = t.back();
  }
  const auto ty = nice_ticks(yl, yh);
  yl = ty.front();
  yh = ty.back();
  f.x0 = std::isnan(p.x_min) ? xl : p.x_min;
  f.x1 = std::isnan(p.x_max) ? xh : p.x_max;
  f.y0 = std::isnan(p.y_min) ? yl : p.y_min;
  f.y1 = std::isnan(p.y_max) ? yh : p.y_max;
  if (!(f.x1 > f.x0)) f.x1 = f.x0 + 1;
  if (!(f.y1 > f.y0)) f.y1 = f.y0 + 1;
  return f;
}

std::string path_data(const Series& s, const PlotFrame& f) {
  std::string d;
  bool pen = false;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
      pen = false;
      continue;
    }
    d += pen ? "L" : "M";
    d += num1(f.px(s.x[i])) + " " + num1(f.py(s.y[i]));
    pen = true;
  }
  return d;
}

std::string line_chart_svg(const LinePlot& p) {
  const PlotFrame f = plot_frame(p);
  const std::string W = std::to_string(p.width), H = std::to_string(p.height);
  std::string s = "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + W + " " + H +
                  "\" width=\"" + W + "\" height=\"" + H + "\" role=\"img\" aria-label=\"" +
                  html_escape(p.y_label + " vs " + p.x_label) + "\">";
  s += "<rect x=\"" + num1(f.left) + "\" y=\"" + num1(f.top) + "\" width=\"" + num1(f.right - f.left) +
       "\" height=\"" + num1(f.bottom - f.top) + "\" fill=\"#fbfcfe\" stroke=\"#d0d7e2\"/>";
  // Grid and tick labels.
  const auto xt = axis_ticks(f.x0, f.x1, p.integer_x), yt = axis_ticks(f.y0, f.y1, false);
  const int xd = p.integer_x ? 0 : tick_decimals(tick_step(xt)), yd = tick_decimals(tick_step(yt));
  for (double v : yt) {
    const std::string y = num1(f.py(v));
    s += "<line x1=\"" + num1(f.left) + "\" x2=\"" + num1(f.right) + "\" y1=\"" + y + "\" y2=\"" + y +
         "\" stroke=\"#e5e9f0\"/>";
    s += "<text x=\"" + num1(f.left - 6) + "\" y=\"" + y + "\" dy=\"0.32em\" text-anchor=\"end\" class=\"tick\">" +
         fmt_fixed(v, yd) + "</text>";
  }
  for (double v : xt) {
    const std::string x = num1(f.px(v));
    s += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + num1(f.top) + "\" y2=\"" + num1(f.bottom) +
         "\" stroke=\"#eef1f6\"/>";
    s += "<text x=\"" + x + "\" y=\"" + num1(f.bottom + 16) + "\" text-anchor=\"middle\" class=\"tick\">" +
         fmt_fixed(v, xd) + "</text>";
  }
  s += "<text x=\"" + num1((f.left + f.right) / 2) + "\" y=\"" + std::to_string(p.height - 6) +
       "\" text-anchor=\"middle\" class=\"axis\">" + html_escape(p.x_label) + "</text>";
  s += "<text transform=\"translate(14," + num1((f.top + f.bottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">" + html_escape(p.y_label) + "</text>";
  if (p.diagonal) {
    const double a = std::max(f.x0, f.y0), b = std::min(f.x1, f.y1);
    if (b > a)
      s += "<line x1=\"" + num1(f.px(a)) + "\" y1=\"" + num1(f.py(a)) + "\" x2=\"" + num1(f.px(b)) + "\" y2=\"" +
           num1(f.py(b)) + "\" stroke=\"#9aa5b5\" stroke-dasharray=\"4 4\"/>";
  }
  // Series, clipped to the plotting area.
  static std::atomic<int> clip_id{0};  // unique per chart within a page (ids must not repeat)
  const std::string clip = "clip" + std::to_string(++clip_id);
  s += "<clipPath id=\"" + clip + "\"><rect x=\"" + num1(f.left) + "\" y=\"" + num1(f.top - 4) + "\" width=\"" +
       num1(f.right - f.left) + "\" height=\"" + num1(f.bottom - f.top + 8) + "\"/></clipPath><g clip-path=\"url(#" +
       clip + ")\">";
  for (const Series& sr : p.series) {
    const std::string d = path_data(sr, f);
    if (d.empty()) continue;
    s += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + html_escape(sr.color) +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\"" + (sr.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    if (sr.markers)
      for (size_t i = 0; i < sr.x.size() && i < sr.y.size(); ++i)
        if (std::isfinite(sr.x[i]) && std::isfinite(sr.y[i]))
          s += "<circle cx=\"" + num1(f.px(sr.x[i])) + "\" cy=\"" + num1(f.py(sr.y[i])) + "\" r=\"2.6\" fill=\"" +
               html_escape(sr.color) + "\"/>";
  }
  s += "</g>";
  // Legend.
  if (p.legend != Legend::None && !p.series.empty()) {
    size_t longest = 0;
    for (const Series& sr : p.series) longest = std::max(longest, sr.name.size());
    const double lw = 40 + 6.6 * static_cast<double>(longest), lh = 8 + 17.0 * static_cast<double>(p.series.size());
    Legend where = p.legend;
    if (where == Legend::Auto) {  // the emptiest corner: count line samples under each candidate box
      size_t best = SIZE_MAX;
      for (Legend c : {Legend::TopRight, Legend::BottomRight, Legend::TopLeft, Legend::BottomLeft}) {
        const double bx = c == Legend::TopLeft || c == Legend::BottomLeft ? f.left + 8 : f.right - lw - 8;
        const double by = c == Legend::TopRight || c == Legend::TopLeft ? f.top + 8 : f.bottom - lh - 8;
        size_t hits = 0;
        for (const Series& sr : p.series)
          for (size_t i = 0; i + 1 < sr.x.size() && i + 1 < sr.y.size(); ++i)
            for (int k = 0; k <= 8; ++k) {
              const double t = k / 8.0;
              const double x = f.px(sr.x[i] + t * (sr.x[i + 1] - sr.x[i]));
              const double y = f.py(sr.y[i] + t * (sr.y[i + 1] - sr.y[i]));
              hits += x >= bx - 4 && x <= bx + lw + 4 && y >= by - 4 && y <= by + lh + 4 ? 1 : 0;
            }
        if (hits < best) {
          best = hits;
          where = c;
        }
      }
    }
    const double lx = where == Legend::TopLeft || where == Legend::BottomLeft ? f.left + 8 : f.right - lw - 8;
    const double ly = where == Legend::TopRight || where == Legend::TopLeft ? f.top + 8 : f.bottom - lh - 8;
    s += "<g class=\"legend\"><rect x=\"" + num1(lx) + "\" y=\"" + num1(ly) + "\" width=\"" + num1(lw) +
         "\" height=\"" + num1(lh) + "\" rx=\"4\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#d0d7e2\"/>";
    for (size_t i = 0; i < p.series.size(); ++i) {
      const Series& sr = p.series[i];
      const double y = ly + 13 + 17.0 * static_cast<double>(i);
      s += "<line x1=\"" + num1(lx + 8) + "\" x2=\"" + num1(lx + 30) + "\" y1=\"" + num1(y) + "\" y2=\"" + num1(y) +
           "\" stroke=\"" + html_escape(sr.color) + "\" stroke-width=\"2\"" +
           (sr.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
      s += "<text x=\"" + num1(lx + 36) + "\" y=\"" + num1(y) + "\" dy=\"0.32em\" class=\"tick\">" +
           html_escape(sr.name) + "</text>";
    }
    s += "</g>";
  }
  s += "</svg>";
  return s;
}

std::string confusion_svg(const std::vector<std::vector<int>>& m, const std::vector<std::string>& names) {
  const size_t n = m.size();
  size_t longest = 4;
  for (const auto& nm : names) longest = std::max(longest, nm.size());
  const double cell = n > 6 ? 48 : 72;
  const double left = 34 + 7.0 * static_cast<double>(longest);  // "true" axis title + row names
  const double top = 30;                                         // "predicted" axis title
  const double bottom = 22 + 7.0 * static_cast<double>(longest) * 0.72;  // column names at -45 degrees
  const double W = left + cell * static_cast<double>(n) + 12, H = top + cell * static_cast<double>(n) + bottom;
  std::string s = "<svg class=\"confusion\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + num1(W) + " " +
                  num1(H) + "\" width=\"" + num1(W) + "\" height=\"" + num1(H) +
                  "\" role=\"img\" aria-label=\"confusion matrix\">";
  s += "<text x=\"" + num1(left + cell * static_cast<double>(n) / 2) +
       "\" y=\"16\" text-anchor=\"middle\" class=\"axis\">predicted</text>";
  s += "<text transform=\"translate(12," + num1(top + cell * static_cast<double>(n) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\" class=\"axis\">true</text>";
  for (size_t r = 0; r < n; ++r) {
    int row_total = 0;
    for (int v : m[r]) row_total += v;
    const double y = top + cell * static_cast<double>(r);
    const std::string name = r < names.size() ? names[r] : std::to_string(r);
    s += "<text x=\"" + num1(left - 8) + "\" y=\"" + num1(y + cell / 2) +
         "\" dy=\"0.32em\" text-anchor=\"end\" class=\"tick\">" + html_escape(name) + "</text>";
    for (size_t c = 0; c < m[r].size() && c < n; ++c) {
      const double x = left + cell * static_cast<double>(c);
      const double share = row_total > 0 ? static_cast<double>(m[r][c]) / row_total : 0.0;
      // Correct cells in blue, mistakes in red; the darker, the larger the share of the true class.
      const std::string fill = r == c ? mix(0xf4f7fb, 0x1d4ed8, share) : mix(0xf4f7fb, 0xc2410c, share * 1.6);
      const bool dark = r == c ? share > 0.45 : share * 1.6 > 0.55;
      s += "<rect x=\"" + num1(x + 1) + "\" y=\"" + num1(y + 1) + "\" width=\"" + num1(cell - 2) + "\" height=\"" +
           num1(cell - 2) + "\" rx=\"3\" fill=\"" + fill + "\"><title>" + html_escape(name) + " \xE2\x86\x92 " +
           html_escape(c < names.size() ? names[c] : std::to_string(c)) + ": " + std::to_string(m[r][c]) +
           "</title></rect>";
      // Inline style, not the fill attribute: the page's CSS colours .tick, and CSS beats attributes.
      const std::string tc = std::string(" style=\"fill:") + (dark ? "#ffffff" : "#1f2937") + "\"";
      s += "<text x=\"" + num1(x + cell / 2) + "\" y=\"" + num1(y + cell / 2 - 4) +
           "\" text-anchor=\"middle\" class=\"count\"" + tc + ">" + std::to_string(m[r][c]) + "</text>";
      s += "<text x=\"" + num1(x + cell / 2) + "\" y=\"" + num1(y + cell / 2 + 13) +
           "\" text-anchor=\"middle\" class=\"tick\"" + tc + ">" + fmt_pct(share, 0) + "</text>";
    }
  }
  for (size_t c = 0; c < n; ++c) {
    const double x = left + cell * (static_cast<double>(c) + 0.5), y = top + cell * static_cast<double>(n) + 10;
    s += "<text transform=\"translate(" + num1(x) + "," + num1(y) +
         ") rotate(-30)\" text-anchor=\"end\" dy=\"0.6em\" class=\"tick\">" +
         html_escape(c < names.size() ? names[c] : std::to_string(c)) + "</text>";
  }
  s += "</svg>";
  return s;
}

std::string share_bar_svg(double share, const std::string& color, int width) {
  const double w = std::isfinite(share) ? std::clamp(share, 0.0, 1.0) * width : 0.0;
  return "<svg class=\"bar\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
         "\" height=\"8\" viewBox=\"0 0 " + std::to_string(width) + " 8\"><rect width=\"" + std::to_string(width) +
         "\" height=\"8\" rx=\"4\" fill=\"#e5e9f0\"/><rect width=\"" + num1(w) + "\" height=\"8\" rx=\"4\" fill=\"" +
         html_escape(color) + "\"/></svg>";
}

}  // namespace cxr::report
