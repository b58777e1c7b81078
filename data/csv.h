// CSV as RFC 4180 writes it: the manifests cxr reads (data/dataset.h) and the predictions.csv it writes
// (train/evaluate.h). Quoted fields may hold commas, doubled quotes and newlines; a UTF-8 byte-order mark
// (Excel writes one) is skipped; blank lines are dropped; \n, \r\n and \r all end a row.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace cxr::data {

// Limits a file cannot talk its way past (each refusal names the file, the line and the limit):
inline constexpr size_t kMaxCsvRows = 1'000'000;  // rows (MIMIC-CXR, the largest public set, has 377k images)
inline constexpr size_t kMaxCsvFieldBytes = 65536;             // one field (a path is at most 4096)

// text -> rows of fields. name_for_errors names the file in messages ("manifest.csv:12: quoted field is
// never closed"); line_numbers, when given, receives each row's first line.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& name_for_errors,
                                                std::vector<int>* line_numbers = nullptr);

// One field as written: quoted (with inner quotes doubled) only when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);

}  // namespace cxr::data
