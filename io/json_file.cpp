#include "io/json_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io/atomic_file.h"

namespace cxr::io {

using json = nlohmann::json;

json parse_json_text(const std::string& text, const std::string& name) {
  CXR_CHECK(text.size() <= kMaxJsonFileBytes, name, ": file is ", text.size(), " bytes, more than the limit of ",
            kMaxJsonFileBytes, " bytes for a JSON file");
  auto limit = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)  // depth counts the levels above this one
      throw Error(str(name, ": JSON is nested more than ", kMaxJsonDepth, " levels deep (the limit)"));
    return true;
  };
  try {
    return json::parse(text, limit);
  } catch (const json::exception& e) {
    throw Error(str(name, ": invalid JSON: ", e.what()));
  }
}

json read_json_file(const std::string& path) {
  struct stat st;
  CXR_CHECK(stat(path.c_str(), &st) == 0, path, ": cannot open: ", std::strerror(errno));
  CXR_CHECK(!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) <= kMaxJsonFileBytes, path, ": file is ",
            st.st_size, " bytes, more than the limit of ", kMaxJsonFileBytes, " bytes for a JSON file");
  return parse_json_text(read_file(path), path);
}

namespace {

const char* kind(const json& v) {
  switch (v.type()) {
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "a whole number";
    case json::value_t::number_float: return "a number";
    default: return v.type_name();
  }
}

bool fits_int32(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= 2147483647u;
  const int64_t i = v.get<int64_t>();
  return i >= -2147483648LL && i <= 2147483647LL;
}

}  // namespace

void check_json_types(const json& j, const json& defaults, const std::string& name) {
  CXR_CHECK(j.is_object(), name, ": expected a JSON object, got ", j.type_name());
  for (const auto& [key, want] : defaults.items()) {
    if (!j.contains(key)) continue;
    const json& v = j.at(key);
    bool ok;
    if (want.is_number_unsigned())  // an unsigned field (a seed): any non-negative whole number
      ok = v.is_number_unsigned();
    else if (want.is_number_integer())  // a signed field: a whole number within int32 (1e300 is neither)
      ok = v.is_number_integer() && fits_int32(v);
    else if (want.is_number())
      ok = v.is_number();
    else
      ok = v.type() == want.type() || (want.is_null());
    CXR_CHECK(ok, name, ": '", key, "' is ", kind(v), v.is_number() ? str(" (", v.dump(), ")") : std::string(),
              ", expected ", want.is_number_unsigned() ? "a non-negative whole number"
                             : want.is_number_integer() ? "a whole number within +-2^31" : kind(want));
  }
}

}  // namespace cxr::io
