#include "data/csv.h"

#include "core/error.h"

namespace cxr::data {


std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& name,
                                                std::vector<int>* line_numbers) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false, field_quoted = false;
  int line = 1, row_line = 1;
  size_t i = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte-order mark (Excel writes one)
  auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_quoted = false;
    bool blank = row.size() == 1 && row[0].empty();
    if (!blank) {
      rows.push_back(std::move(row));
      if (line_numbers) line_numbers->push_back(row_line);
    }
    row.clear();
  };
  for (; i < text.size(); ++i) {
    char c = text[i];
    CXR_CHECK(field.size() <= kMaxCsvFieldBytes, name, ":", row_line, ": a field longer than the limit of ",
              kMaxCsvFieldBytes, " bytes");
    CXR_CHECK(rows.size() < kMaxCsvRows, name, ":", line, ": more than the limit of ", kMaxCsvRows, " rows");
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && field.empty() && !field_quoted) {
      in_quotes = field_quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      field_quoted = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      row_line = ++line;
    } else {
      field += c;
    }
  }
  CXR_CHECK(field.size() <= kMaxCsvFieldBytes, name, ":", row_line, ": a field longer than the limit of ",
            kMaxCsvFieldBytes, " bytes");
  CXR_CHECK(!in_quotes, name, ":", row_line, ": quoted field is never closed");
  if (!field.empty() || !row.empty() || field_quoted) end_row();
  return rows;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace cxr::data
