#include "report/html.h"

#include <cmath>
#include <cstdio>

namespace cxr::report {

std::string html_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string base64_encode(std::string_view bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string o;
  o.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {  // 3 bytes -> 4 characters of 6 bits
    const uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    o += k[(v >> 18) & 63];
    o += k[(v >> 12) & 63];
    o += k[(v >> 6) & 63];
    o += k[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t(p[i]) << 16;
    o += k[(v >> 18) & 63];
    o += k[(v >> 12) & 63];
    o += "==";
  } else if (rest == 2) {
    const uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8);
    o += k[(v >> 18) & 63];
    o += k[(v >> 12) & 63];
    o += k[(v >> 6) & 63];
    o += '=';
  }
  return o;
}

std::string png_data_uri(std::string_view png_bytes) { return "data:image/png;base64," + base64_encode(png_bytes); }

std::string fmt_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "\xE2\x80\x93";  // en dash
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string fmt_pct(double share, int decimals) {
  if (!std::isfinite(share)) return "\xE2\x80\x93";
  return fmt_fixed(100.0 * share, decimals) + "%";
}

std::string fmt_int(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), o;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) o += "\xE2\x80\x89";  // thin space
    o += digits[i];
  }
  return v < 0 ? "-" + o : o;
}

std::string fmt_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return fmt_fixed(bytes, u == 0 ? 0 : 1) + " " + units[u];
}

Html& Html::raw(std::string_view markup) {
  out_ += markup;
  return *this;
}

Html& Html::text(std::string_view s) {
  out_ += html_escape(s);
  return *this;
}

Html& Html::open(std::string_view tag, const Attrs& attrs) {
  out_ += '<';
  out_ += tag;
  for (const auto& [k, v] : attrs) {
    out_ += ' ';
    out_ += k;
    out_ += "=\"";
    out_ += html_escape(v);
    out_ += '"';
  }
  out_ += '>';
  return *this;
}

Html& Html::close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += '>';
  return *this;
}

Html& Html::element(std::string_view tag, std::string_view text, const Attrs& attrs) {
  return open(tag, attrs).text(text).close(tag);
}

Html& Html::empty(std::string_view tag, const Attrs& attrs) { return open(tag, attrs); }

}  // namespace cxr::report
