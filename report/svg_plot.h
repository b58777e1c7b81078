// Plain SVG charts for the report, generated as text: no plotting library, no JavaScript.
//
//   line charts   training curves (loss / accuracy per epoch, train and val), ROC curves (one per class,
//                 with the chance diagonal), deletion / insertion curves
//   heatmap       the confusion matrix: cell colour = share of the TRUE class's row (the recall of that
//                 cell), with the count and the share printed in the cell
//
// Layout of a line chart (all in SVG user units = CSS pixels at 100% zoom), fixed so that tests and readers
// can say where a point lands: the plotting area spans x in [kLeft, width - kRight] and y in
// [kTop, height - kBottom]; data x0..x1 map linearly onto it left to right, y0..y1 bottom to top:
//     px(x) = kLeft + (x - x0) / (x1 - x0) * (width - kLeft - kRight)
//     py(y) = (height - kBottom) - (y - y0) / (y1 - y0) * (height - kTop - kBottom)
// Coordinates are written with one decimal. A range left as NaN is taken from the data and widened to
// "nice" tick values (1, 2 or 5 times a power of ten). Every label that comes from data is HTML-escaped.
#pragma once
#include <cmath>
#include <string>
#include <vector>

namespace cxr::report {

inline constexpr double kLeft = 52, kRight = 14, kTop = 12, kBottom = 42;

struct Series {
  std::string name;             // legend entry
  std::vector<double> x, y;     // same length; non-finite points are skipped (the line breaks there)
  std::string color = "#2563eb";
  bool dashed = false;
  bool markers = false;         // a dot on every point (short training histories)
};

// Auto: the corner of the plotting area (top/bottom, right/left) where the legend box covers the fewest
// data points and line samples.
enum class Legend { Auto, TopRight, BottomRight, TopLeft, BottomLeft, None };

struct LinePlot {
  std::string x_label, y_label;
  int width = 480, height = 300;
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;  // NaN: from the data, rounded to nice ticks
  bool diagonal = false;        // dashed y = x line (ROC chance level)
  bool integer_x = false;       // x ticks at whole numbers only (epochs)
  Legend legend = Legend::Auto;
  std::vector<Series> series;
};

// Where the data lands: the plotting area's pixel edges and the data range mapped onto it.
struct PlotFrame {
  double left = 0, top = 0, right = 0, bottom = 0;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
  double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};
PlotFrame plot_frame(const LinePlot& p);

// Tick values covering [lo, hi] at a step of 1, 2 or 5 x 10^k, at most about max_ticks of them; the first
// tick <= lo and the last >= hi. nice_ticks(0, 1) = {0, 0.2, 0.4, 0.6, 0.8, 1}.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);

// The SVG path of one series in a frame: "M52.0 258.0L466.0 12.0" (a new M after a non-finite point).
std::string path_data(const Series& s, const PlotFrame& f);

// A complete <svg> element.
std::string line_chart_svg(const LinePlot& p);

// Confusion matrix [true][predicted] with class names; a complete <svg> element.
std::string confusion_svg(const std::vector<std::vector<int>>& matrix, const std::vector<std::string>& names);

// A short horizontal bar (share in [0, 1]) for table cells; a complete <svg> element.
std::string share_bar_svg(double share, const std::string& color = "#2563eb", int width = 80);

// Colours for series i (a colour-blind-friendly palette, cycled).
const std::string& series_color(size_t i);

}  // namespace cxr::report
