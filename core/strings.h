// Small string helpers used across cxr, so that no file writes its own. Prefixes and suffixes need none:
// C++20's s.starts_with("x") / s.ends_with("x").
#pragma once
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace cxr {

// ASCII lower case (file extensions, class names, option values compared case-insensitively).
inline std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// s without leading and trailing blanks (spaces, tabs, CR, LF): CSV fields, /proc/cpuinfo values.
inline std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// split("a,b,,c", ',') == {"a", "b", "", "c"}; split("", ',') == {""}. Every field is kept, empty ones too,
// so that a caller can say which one is wrong.
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t end; (end = s.find(sep, start)) != std::string::npos; start = end + 1) out.push_back(s.substr(start, end - start));
  out.push_back(s.substr(start));
  return out;
}

// join({"a", "b"}, " | ") == "a | b": lists of names in messages and help texts.
inline std::string join(const std::vector<std::string>& parts, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

}  // namespace cxr
