// The JSON files cxr reads back from disk: a run folder's config.json and state.json (`cxr train --resume`,
// `cxr report`), and the output of `cxr eval --json`, `cxr xai-eval --json` and `cxr explain` read by
// `cxr report`. They may come from anywhere, so the reader has limits a file cannot talk its way past:
//
//   kMaxJsonFileBytes  64 MiB: the file's size, checked before it is read (cxr writes a few kB; a large
//                      xai-eval output is well under 1 MiB)
//   kMaxJsonDepth      64: nesting of objects and arrays, checked while parsing (nlohmann copies, prints and
//                      destroys values recursively, so a deeper file could overflow the stack later)
//
// Every refusal and every syntax error is a cxr::Error that starts with the file name.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace cxr::io {

inline constexpr uint64_t kMaxJsonFileBytes = uint64_t{64} << 20;
inline constexpr int kMaxJsonDepth = 64;

// Parses `text` as the file `name` (size and depth limits, then the JSON syntax).
nlohmann::json parse_json_text(const std::string& text, const std::string& name);
// The JSON syntax with a depth limit, in time linear in the text (nlohmann's parse with a callback rescans
// each finished object, quadratic: 40,000 empty objects took 2.7 s). Throws nlohmann's exceptions for bad
// syntax and `on_too_deep()`'s for nesting deeper than max_depth.
nlohmann::json parse_json_limited(const std::string& text, int max_depth, const std::function<void()>& on_too_deep);
// Reads and parses a file; "<path>: cannot open", "<path>: file is N bytes, more than the limit...".
nlohmann::json read_json_file(const std::string& path);

// Checks that every key of `j` that `defaults` also has holds a value of the same kind (string, boolean,
// whole number, number, array, object); where `defaults` has a signed whole number the value must be a whole
// number within int32, where it has an unsigned one (a seed) a non-negative whole number. Used before nlohmann's get<T>() on files, which would
// otherwise convert 1e300 to an int (undefined behaviour) or throw a message without the file name.
// Throws cxr::Error "<name>: '<key>' is <kind>, expected <kind>".
void check_json_types(const nlohmann::json& j, const nlohmann::json& defaults, const std::string& name);

}  // namespace cxr::io
