// The few pieces of HTML the report needs: escaping, base64 for data: URIs, number formatting, and a tiny
// builder that makes it hard to forget an escape.
//
// Escaping rule: EVERY string that comes from data (file names, class names, paths, config values, error
// messages) goes through html_escape before it reaches the page, in text and in attribute values alike.
// The five characters & < > " ' become entities, so a file named "<script>alert(1)</script>.png" shows as
// that text and never runs. Html::text() and Html::open()'s attribute values escape; only Html::raw() does
// not, and it is used for markup the report itself generates (tags, SVG from report/svg_plot.h).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cxr::report {

// & -> &amp;  < -> &lt;  > -> &gt;  " -> &quot;  ' -> &#39;   (safe in text and in quoted attributes)
std::string html_escape(std::string_view s);

// Standard base64 (RFC 4648, with '=' padding), for data: URIs.
std::string base64_encode(std::string_view bytes);
// "data:image/png;base64,..." for PNG file bytes.
std::string png_data_uri(std::string_view png_bytes);

// Numbers for tables: fixed decimals; "–" (an en dash) for NaN / infinity. fmt_pct(0.9734) = "97.3%".
std::string fmt_fixed(double v, int decimals);
std::string fmt_pct(double share, int decimals = 1);
// Integers with thin-space thousands groups: 14714688 -> "14 714 688".
std::string fmt_int(int64_t v);
// Byte counts: "1.5 MiB".
std::string fmt_bytes(double bytes);

using Attrs = std::vector<std::pair<std::string, std::string>>;

// Appends to one string. Attribute values and text are escaped; raw() is for trusted, generated markup.
class Html {
 public:
  Html& raw(std::string_view markup);
  Html& text(std::string_view s);
  Html& open(std::string_view tag, const Attrs& attrs = {});  // <tag a="v">
  Html& close(std::string_view tag);                          // </tag>
  Html& element(std::string_view tag, std::string_view text, const Attrs& attrs = {});  // open + text + close
  Html& empty(std::string_view tag, const Attrs& attrs = {});                          // <img ...>, <br>
  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace cxr::report
