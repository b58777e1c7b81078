#include "io/json_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cxr::io {

using json = nlohmann::json;

namespace {

// nlohmann's own DOM builder behind a depth check: the parse stays linear.
class DepthLimitedSax {
 public:
  DepthLimitedSax(json& root, int max_depth, const std::function<void()>& on_too_deep)
      : dom_(root, /*allow_exceptions=*/true), max_depth_(max_depth), on_too_deep_(on_too_deep) {}
  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return open() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() { return --depth_, dom_.end_object(); }
  bool start_array(std::size_t n) { return open() && dom_.start_array(n); }
  bool end_array() { return --depth_, dom_.end_array(); }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& ex) {
    return dom_.parse_error(position, token, ex);  // throws ex
  }

 private:
  bool open() {
    if (++depth_ > max_depth_) on_too_deep_();
    return true;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0, max_depth_;
  const std::function<void()>& on_too_deep_;
};

}  // namespace

json parse_json_limited(const std::string& text, int max_depth, const std::function<void()>& on_too_deep) {
  json root;
  DepthLimitedSax sax(root, max_depth, on_too_deep);
  json::sax_parse(text, &sax);  // strict: nothing but whitespace may follow the value
  return root;
}

json parse_json_text(const std::string& text, const std::string& name) {
  CXR_CHECK(text.size() <= kMaxJsonFileBytes, name, ": file is ", text.size(), " bytes, more than the limit of ",
            kMaxJsonFileBytes, " bytes for a JSON file");
  try {
    return parse_json_limited(text, kMaxJsonDepth, [&] {
      throw Error(str(name, ": JSON is nested more than ", kMaxJsonDepth, " levels deep (the limit)"));
    });
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
