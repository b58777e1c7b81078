// safetensors reading, validation and writing. See safetensors.h for the format.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"

// Tensor bytes are copied straight between memory and file, which is right only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace cxr::io {

using json = nlohmann::json;

// --- dtypes ---------------------------------------------------------------------------------------------

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  int64_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},     {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},   {DType::I32, "I32", 4},   {DType::U32, "U32", 4},   {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2}, {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},
};

// Valid in the format but not convertible here: refused with a message that says so, not "unknown".
constexpr const char* kUnsupportedDTypes[] = {"F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
                                               "C64"};

const DTypeInfo& info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  throw Error("safetensors: invalid DType value");
}

constexpr uint64_t kMaxHeaderBytes = kMaxSafetensorsHeaderBytes;
constexpr int64_t kMaxDimSize = int64_t{1} << 40;  // no real tensor dimension comes near this

}  // namespace

const char* dtype_name(DType d) { return info(d).name; }
int64_t dtype_size(DType d) { return info(d).size; }
bool dtype_is_integer(DType d) { return d != DType::F16 && d != DType::BF16 && d != DType::F32 && d != DType::F64; }

const NamedTensor* SafeTensors::find(const std::string& name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const NamedTensor& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

// --- errors ---------------------------------------------------------------------------------------------

// Every reading error: "<file>: safetensors: <what is wrong>".
template <typename... Args>
[[noreturn]] static void bad(const std::string& file, const Args&... parts) {
  throw Error(str(file, ": safetensors: ", parts...));
}

// --- byte sources: a file read with pread, or bytes in memory --------------------------------------------

namespace {

struct Source {
  std::string name;  // for messages
  uint64_t size = 0;
  std::function<void(uint64_t offset, void* dst, size_t n)> read;  // [offset, offset + n) within size
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

uint64_t get_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_u64_le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// IEEE half -> float, including subnormals, infinities and NaN.
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal half: mant * 2^-24; normalise it into a float.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// Converts n stored elements of dtype d into floats (and exact integers for integer dtypes).
template <typename T>
void convert_ints(const uint8_t* src, int64_t n, float* dst, std::vector<int64_t>& ints) {
  ints.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    ints[i] = static_cast<int64_t>(v);  // U64 above 2^63 wraps: no real tensor holds such counts
    dst[i] = static_cast<float>(v);
  }
}

void convert(DType d, const uint8_t* src, int64_t n, float* dst, std::vector<int64_t>& ints) {
  switch (d) {
    case DType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); break;
    case DType::F64:
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, src + 8 * i, 8);
        dst[i] = static_cast<float>(v);
      }
      break;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = d == DType::F16 ? half_to_float(h) : bf16_to_float(h);
      }
      break;
    case DType::BOOL:
      ints.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        ints[i] = src[i] != 0 ? 1 : 0;
        dst[i] = static_cast<float>(ints[i]);
      }
      break;
    case DType::U8: convert_ints<uint8_t>(src, n, dst, ints); break;
    case DType::I8: convert_ints<int8_t>(src, n, dst, ints); break;
    case DType::I16: convert_ints<int16_t>(src, n, dst, ints); break;
    case DType::U16: convert_ints<uint16_t>(src, n, dst, ints); break;
    case DType::I32: convert_ints<int32_t>(src, n, dst, ints); break;
    case DType::U32: convert_ints<uint32_t>(src, n, dst, ints); break;
    case DType::I64: convert_ints<int64_t>(src, n, dst, ints); break;
    case DType::U64: convert_ints<uint64_t>(src, n, dst, ints); break;
  }
}

// --- header parsing and validation ----------------------------------------------------------------------

// The header is parsed with a SAX handler that builds the DOM (nlohmann's own json_sax_dom_parser does the
// building) and on the way refuses deep nesting and records duplicate keys. Not json::parse with a callback:
// its callback parser, each time an object or array closes, scans every element of the enclosing one for a
// discarded value, which made a header of n tensors cost O(n^2) (10,000 entries 1.1 s, 40,000 42 s,
// 100,000 not done in 10 minutes). Here every event is O(1) apart from the key sets' O(log n).
//
// Past kMaxSafetensorsTensors tensors the DOM is no longer built: the rest is only checked (syntax, depth,
// duplicates) and its tensors counted, so the refusal names the real count without first holding a
// DOM of a 100 MB header (about 1.3 GB).
//
// nlohmann::json keeps the last of duplicate keys without a word, so duplicates are caught while parsing:
// a set of the keys seen in each open object. Reports the first duplicate as a path ("a.dtype").
class HeaderSax {
 public:
  HeaderSax(json& root, const std::string& file) : dom_(root, /*allow_exceptions=*/true), file_(file) {}

  std::string duplicate;  // "tensor name 'a'" or "key 'a.dtype'"; empty when none
  uint64_t tensors = 0;   // distinct top-level keys but __metadata__

  bool null() { return counting_only_ || dom_.null(); }
  bool boolean(bool v) { return counting_only_ || dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return counting_only_ || dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return counting_only_ || dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return counting_only_ || dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return counting_only_ || dom_.string(v); }
  bool binary(json::binary_t& v) { return counting_only_ || dom_.binary(v); }
  bool start_object(std::size_t n) {
    open();
    objects_.emplace_back();
    return counting_only_ || dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    Level& top = objects_.back();
    top.key = k;
    const bool inserted = top.keys.insert(k).second;
    if (inserted && objects_.size() == 1 && k != "__metadata__" && ++tensors > kMaxSafetensorsTensors)
      counting_only_ = true;
    if (!inserted && duplicate.empty()) {
      if (objects_.size() == 1 && k != "__metadata__") {
        duplicate = "tensor name '" + k + "'";
      } else {
        std::string path;
        for (size_t i = 0; i + 1 < objects_.size(); ++i) path += objects_[i].key + ".";
        duplicate = "key '" + path + k + "'";
      }
    }
    return counting_only_ || dom_.key(k);
  }
  bool end_object() {
    --depth_;
    objects_.pop_back();
    return counting_only_ || dom_.end_object();
  }
  bool start_array(std::size_t n) {
    open();
    return counting_only_ || dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    return counting_only_ || dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& ex) {
    return dom_.parse_error(position, token, ex);  // throws ex (parse_error, or out_of_range for 1e3002)
  }

 private:
  struct Level {
    std::set<std::string> keys;
    std::string key;  // the key being parsed in this object
  };

  // A header nests 3 deep (root / entry / shape). Refusing deep nesting early keeps every later step
  // (copies, dumps in messages: recursive in nlohmann) away from a hostile file's stack overflow. depth_
  // counts the objects and arrays already open around the one starting (0 for the root).
  void open() {
    if (depth_ > kMaxSafetensorsHeaderDepth)
      bad(file_, "header JSON is nested more than ", kMaxSafetensorsHeaderDepth, " levels deep");
    ++depth_;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const std::string& file_;
  int depth_ = 0;
  std::vector<Level> objects_;
  bool counting_only_ = false;  // over the tensor limit: the DOM is left unfinished (and unused)
};

bool parse_dtype(const std::string& s, DType& out) {
  for (const auto& i : kDTypes)
    if (s == i.name) {
      out = i.dtype;
      return true;
    }
  return false;
}

TensorEntry parse_entry(const std::string& file, const std::string& name, const json& e) {
  TensorEntry t;
  t.name = name;
  auto where = [&] { return str("tensor '", name, "'"); };
  if (!e.is_object()) bad(file, where(), ": entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!e.contains(field)) bad(file, where(), ": entry is missing field \"", field, "\"");

  const json& dt = e["dtype"];
  if (!dt.is_string()) bad(file, where(), ": \"dtype\" is not a string");
  const std::string ds = dt.get<std::string>();
  if (!parse_dtype(ds, t.dtype)) {
    for (const char* u : kUnsupportedDTypes)
      if (ds == u) bad(file, where(), ": dtype ", ds, " is not supported by cxr");
    bad(file, where(), ": unknown dtype '", ds, "'");
  }

  const json& sh = e["shape"];
  if (!sh.is_array()) bad(file, where(), ": \"shape\" is not an array");
  if (sh.size() > static_cast<size_t>(kMaxDims))
    bad(file, where(), ": shape has ", sh.size(), " dimensions; cxr tensors have at most ", kMaxDims);
  int64_t numel = 1;
  for (const json& d : sh) {
    if (!d.is_number_integer()) bad(file, where(), ": shape ", sh.dump(), " holds a non-integer");
    if (d.is_number_unsigned() ? d.get<uint64_t>() > static_cast<uint64_t>(kMaxDimSize) : d.get<int64_t>() < 0)
      bad(file, where(), ": shape ", sh.dump(), " has a ",
          d.is_number_unsigned() ? "absurd size (over 2^40)" : "negative size");
    const int64_t size = d.get<int64_t>();
    // numel stays <= 2^58 (no file is that large), so neither it nor its byte size (x8) overflows.
    if (size != 0 && numel > (int64_t{1} << 58) / size)
      bad(file, where(), ": shape ", sh.dump(), " is absurdly large");
    t.shape.push_back(size);
    numel *= size;
  }

  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad(file, where(), ": \"data_offsets\" ", off.dump(), " is not a pair of non-negative integers");
  t.begin = off[0].get<uint64_t>();
  t.end = off[1].get<uint64_t>();
  if (t.end < t.begin) bad(file, where(), ": data_offsets [", t.begin, ", ", t.end, "] end before they begin");
  const uint64_t need = static_cast<uint64_t>(numel) * static_cast<uint64_t>(info(t.dtype).size);
  if (t.end - t.begin != need)
    bad(file, where(), ": shape ", to_string(t.shape), " of ", ds, " needs ", need, " bytes but data_offsets [",
        t.begin, ", ", t.end, "] hold ", t.end - t.begin);
  return t;
}

SafeTensorsHeader parse_header(const Source& src) {
  const std::string& file = src.name;
  SafeTensorsHeader h;
  h.file_size = src.size;
  if (src.size < 8)
    bad(file, "file is only ", src.size, " bytes, shorter than the 8-byte header length");
  uint8_t len_bytes[8];
  src.read(0, len_bytes, 8);
  const uint64_t n = get_u64_le(len_bytes);
  if (n > kMaxHeaderBytes) bad(file, "header length ", n, " is absurd (the limit is ", kMaxHeaderBytes, " bytes)");
  if (n > src.size - 8) bad(file, "header length ", n, " is larger than the file (", src.size, " bytes)");
  h.data_start = 8 + n;

  std::string text(n, '\0');
  if (n > 0) src.read(8, text.data(), n);
  if (text.empty() || text[0] != '{') bad(file, "header does not start with '{' (not a JSON object)");
  json root;
  HeaderSax sax(root, file);
  try {
    json::sax_parse(text, &sax);  // strict: nothing but whitespace may follow the object
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e3002 (fuzz_safetensors)
    bad(file, "header is not valid JSON: ", e.what());
  }
  if (!sax.duplicate.empty())
    bad(file, "duplicate ", sax.duplicate, " in the header (a JSON parser would silently keep the last)");
  if (!root.is_object()) bad(file, "header is not a JSON object");

  if (sax.tensors > kMaxSafetensorsTensors)
    bad(file, "header lists ", sax.tensors, " tensors, more than the limit of ", kMaxSafetensorsTensors);
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad(file, "__metadata__ is not a JSON object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) bad(file, "__metadata__ value of '", k, "' is not a string (", v.type_name(), ")");
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(file, key, value));
  }

  // What the tensors take once converted to float32, before any of them is allocated.
  uint64_t float_bytes = 0;
  for (const TensorEntry& t : h.entries) {
    float_bytes += static_cast<uint64_t>(numel(t.shape)) * 4;  // each <= 2^60 (parse_entry): no overflow
    if (float_bytes > kMaxSafetensorsTensorBytes)
      bad(file, "the tensors need more than ", kMaxSafetensorsTensorBytes, " bytes as float32 (the limit; at '",
          t.name, "')");
  }

  // The data buffer must be exactly covered: tensors laid end to end from 0, no overlap, no hole.
  const uint64_t buffer = src.size - h.data_start;
  for (const TensorEntry& t : h.entries)
    if (t.end > buffer)
      bad(file, "tensor '", t.name, "': data_offsets [", t.begin, ", ", t.end, "] lie outside the data buffer (",
          buffer, " bytes; the file is truncated or the offsets are wrong)");
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& t : h.entries) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry* t : by_offset) {
    if (t->begin < pos)
      bad(file, "tensors '", prev->name, "' and '", t->name, "' overlap in the data buffer ([", prev->begin, ", ",
          prev->end, ") and [", t->begin, ", ", t->end, "))");
    if (t->begin > pos)
      bad(file, "hole in the data buffer: bytes [", pos, ", ", t->begin, ") before tensor '", t->name,
          "' belong to no tensor");
    pos = t->end;
    prev = t;
  }
  if (pos != buffer)
    bad(file, "trailing bytes: the data buffer has ", buffer, " bytes but the tensors cover only ", pos);

  // Sorted by name: deterministic, and SafeTensors::find can binary-search.
  std::sort(h.entries.begin(), h.entries.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.name < b.name; });
  return h;
}

SafeTensors read_all(const Source& src) {
  SafeTensorsHeader h = parse_header(src);
  SafeTensors out;
  out.metadata = std::move(h.metadata);
  out.tensors.reserve(h.entries.size());
  std::vector<uint8_t> raw;
  for (const TensorEntry& e : h.entries) {
    NamedTensor t;
    t.name = e.name;
    t.dtype = e.dtype;
    t.value = Tensor::empty(e.shape);
    const size_t bytes = static_cast<size_t>(e.end - e.begin);
    if (bytes > 0) {
      if (e.dtype == DType::F32) {
        src.read(h.data_start + e.begin, t.value.data(), bytes);  // straight into the tensor
      } else {
        raw.resize(bytes);
        src.read(h.data_start + e.begin, raw.data(), bytes);
        convert(e.dtype, raw.data(), t.value.numel(), t.value.data(), t.ints);
      }
    }
    out.tensors.push_back(std::move(t));
  }
  return out;
}

Source file_source(const std::string& path, Fd& fd) {
  fd.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CXR_CHECK(fd.fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st;
  CXR_CHECK(fstat(fd.fd, &st) == 0, path, ": cannot stat: ", std::strerror(errno));
  CXR_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  Source s;
  s.name = path;
  s.size = static_cast<uint64_t>(st.st_size);
  int f = fd.fd;
  s.read = [f, path](uint64_t offset, void* dst, size_t n) {
    auto* p = static_cast<uint8_t*>(dst);
    while (n > 0) {
      ssize_t got = pread(f, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      CXR_CHECK(got >= 0, path, ": read error: ", std::strerror(errno));
      CXR_CHECK(got > 0, path, ": unexpected end of file at byte ", offset, " (did the file change while reading?)");
      p += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  };
  return s;
}

Source memory_source(const std::vector<uint8_t>& bytes, const std::string& name) {
  Source s;
  s.name = name;
  s.size = bytes.size();
  s.read = [&bytes](uint64_t offset, void* dst, size_t n) { std::memcpy(dst, bytes.data() + offset, n); };
  return s;
}

}  // namespace

SafeTensorsHeader read_safetensors_header(const std::string& path) {
  Fd fd;
  return parse_header(file_source(path, fd));
}

SafeTensors load_safetensors(const std::string& path) {
  Fd fd;
  return read_all(file_source(path, fd));
}

SafeTensors decode_safetensors(const std::vector<uint8_t>& bytes, const std::string& name_for_errors) {
  return read_all(memory_source(bytes, name_for_errors));
}

// --- writing --------------------------------------------------------------------------------------------

std::vector<uint8_t> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  // Layout order: 8-byte dtypes first, then by name, so every tensor starts at a multiple of its element
  // size (the data start is 8-aligned); readers that map the file can then use the bytes in place.
  std::vector<const NamedTensor*> order;
  std::set<std::string> names;
  for (const NamedTensor& t : tensors) {
    CXR_CHECK(t.name != "__metadata__", "safetensors: '__metadata__' cannot be a tensor name");
    CXR_CHECK(names.insert(t.name).second, "safetensors: two tensors named '", t.name, "'");
    CXR_CHECK(t.value.defined(), "safetensors: tensor '", t.name, "' is undefined");
    CXR_CHECK(t.dtype == DType::F32 || t.dtype == DType::I64, "safetensors: tensor '", t.name,
              "': cxr writes F32 and I64 only, not ", dtype_name(t.dtype));
    CXR_CHECK(t.ints.empty() || (t.dtype == DType::I64 && static_cast<int64_t>(t.ints.size()) == t.value.numel()),
              "safetensors: tensor '", t.name, "': ", t.ints.size(), " exact integers for ", t.value.numel(),
              " elements of ", dtype_name(t.dtype));
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](const NamedTensor* a, const NamedTensor* b) {
    int64_t sa = dtype_size(a->dtype), sb = dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  json header = json::object();
  uint64_t offset = 0;
  for (const NamedTensor* t : order) {
    const uint64_t bytes = static_cast<uint64_t>(t->value.numel() * dtype_size(t->dtype));
    header[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->value.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error& e) {
    throw Error(str("safetensors: a tensor name or metadata string is not valid UTF-8: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-aligned

  std::vector<uint8_t> out(8 + text.size() + offset);
  put_u64_le(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* p = out.data() + 8 + text.size();
  for (const NamedTensor* t : order) {
    const int64_t n = t->value.numel();
    if (t->dtype == DType::F32) {
      std::memcpy(p, t->value.data(), static_cast<size_t>(n) * 4);
      p += n * 4;
      continue;
    }
    for (int64_t i = 0; i < n; ++i) {  // I64
      int64_t v;
      if (!t->ints.empty()) {
        v = t->ints[i];
      } else {
        const float f = t->value[i];
        CXR_CHECK(std::isfinite(f) && f == std::trunc(f) && std::fabs(f) < 9.2e18f, "safetensors: tensor '",
                  t->name, "': value ", f, " at index ", i, " is not a whole number, cannot store it as I64");
        v = static_cast<int64_t>(f);
      }
      std::memcpy(p, &v, 8);
      p += 8;
    }
  }
  return out;
}

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_safetensors(tensors, metadata);
  } catch (const Error& e) {
    throw Error(str(path, ": ", e.what()));
  }
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace cxr::io
