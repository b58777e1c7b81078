// io/safetensors: bit-exact round trips, the byte layout checked independently of the reader, hand-made
// files in every dtype, one crafted malformed file per validation rule, and truncation / corruption that
// must always end in a cxr::Error (never a crash, never a half-read result).
// GCC 12 reports a false -Wrestrict inside std::string's operator+ when it is inlined at -O3 (GCC bug
// 105651); nothing in this file copies overlapping memory.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "io/safetensors.h"

using namespace cxr;
using namespace cxr::io;
namespace fs = std::filesystem;
using json = nlohmann::json;
using Bytes = std::vector<uint8_t>;

namespace {

class SafeTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("cxr_test_safetensors_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  fs::path dir;
};

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void put_u64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A file from a header text (taken as is) and a data buffer; `n` overrides the header length field.
Bytes craft(const std::string& header, const Bytes& data = {}, int64_t n = -1) {
  Bytes b;
  put_u64(b, n < 0 ? header.size() : static_cast<uint64_t>(n));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

template <typename T>
Bytes raw(std::initializer_list<T> values) {
  Bytes b(values.size() * sizeof(T));
  std::memcpy(b.data(), std::data(values), b.size());
  return b;
}

Tensor random_tensor(const Shape& s, Rng& rng) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal() * 100.0f;
  return t;
}

bool bits_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * 4) == 0;
}

}  // namespace

// ---- round trips ---------------------------------------------------------------------------------------

TEST_F(SafeTensorsTest, RoundTripIsBitIdentical) {
  Rng rng(7);
  const std::vector<Shape> shapes = {{},     {0},          {1},          {7},          {3, 4},
                                     {2, 0, 3}, {2, 3, 4, 5, 6}, {1, 1, 1, 1, 1}, {64, 3, 3, 3}, {1000}};
  std::vector<NamedTensor> in;
  for (size_t i = 0; i < shapes.size(); ++i)
    in.push_back({"t" + std::to_string(shapes.size() - i), random_tensor(shapes[i], rng), DType::F32, {}});
  // Special values must survive bit for bit: NaN with a payload, -0, infinities, a subnormal.
  Tensor special = Tensor::empty({6});
  const uint32_t patterns[] = {0x7fc01234u, 0xffa00001u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x00000003u};
  std::memcpy(special.data(), patterns, sizeof patterns);
  in.push_back({"special", special, DType::F32, {}});
  in.push_back({"counter", Tensor::from({12345}, {}), DType::I64, {}});
  in.push_back({"big.ints", Tensor::from({0, 0}, {2}), DType::I64, {int64_t{1} << 40, -3}});
  const std::map<std::string, std::string> md = {{"k", "v"}, {"empty", ""}, {"unicode", "Pneumonie \xc3\xa9t\xc3\xa9 \xe2\x9c\x93"},
                                                 {"json", R"({"a": [1, 2]})"}};
  const std::string p = path("rt.safetensors");
  save_safetensors(p, in, md);
  SafeTensors out = load_safetensors(p);
  ASSERT_EQ(out.tensors.size(), in.size());
  EXPECT_EQ(out.metadata, md);
  for (const NamedTensor& t : in) {
    const NamedTensor* r = out.find(t.name);
    ASSERT_NE(r, nullptr) << t.name;
    EXPECT_EQ(r->dtype, t.dtype) << t.name;
    if (t.dtype == DType::F32) {
      EXPECT_TRUE(bits_equal(r->value, t.value)) << t.name << " " << to_string(r->value.shape());
      EXPECT_TRUE(r->ints.empty());
    }
  }
  EXPECT_EQ(out.find("counter")->ints, (std::vector<int64_t>{12345}));
  EXPECT_EQ(out.find("counter")->value.shape(), Shape{});
  EXPECT_EQ(out.find("counter")->value[0], 12345.0f);
  EXPECT_EQ(out.find("big.ints")->ints, (std::vector<int64_t>{int64_t{1} << 40, -3}));
  EXPECT_EQ(out.find("nope"), nullptr);

  // Reading from memory gives the same as from the file.
  SafeTensors mem = decode_safetensors(read_bytes(p), "mem");
  ASSERT_EQ(mem.tensors.size(), out.tensors.size());
  for (size_t i = 0; i < mem.tensors.size(); ++i) EXPECT_TRUE(bits_equal(mem.tensors[i].value, out.tensors[i].value));
}

TEST_F(SafeTensorsTest, EmptyFileOfTensorsRoundTrips) {
  const std::string p = path("none.safetensors");
  save_safetensors(p, {});
  SafeTensors out = load_safetensors(p);
  EXPECT_TRUE(out.tensors.empty());
  EXPECT_TRUE(out.metadata.empty());
}

// The layout, checked by parsing the bytes here rather than with the reader under test.
TEST_F(SafeTensorsTest, LayoutFollowsTheSpecAndIsDeterministic) {
  std::vector<NamedTensor> in = {
      {"b.weight", Tensor::from({1, 2, 3}, {3}), DType::F32, {}},
      {"a.num_batches_tracked", Tensor::from({9}, {}), DType::I64, {}},
      {"a.weight", Tensor::from({4.5f, -1}, {1, 2}), DType::F32, {}},
  };
  Bytes b1 = encode_safetensors(in, {{"arch", "tiny"}});
  std::reverse(in.begin(), in.end());
  Bytes b2 = encode_safetensors(in, {{"arch", "tiny"}});
  EXPECT_EQ(b1, b2) << "input order must not change the file";

  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b1[i];
  ASSERT_LE(8 + n, b1.size());
  EXPECT_EQ((8 + n) % 8, 0u) << "data must start 8-aligned";
  std::string header(b1.begin() + 8, b1.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_EQ(header[0], '{');
  const size_t close = header.find_last_of('}');
  for (size_t i = close + 1; i < header.size(); ++i) EXPECT_EQ(header[i], ' ') << "padding must be spaces";
  json h = json::parse(header);
  EXPECT_EQ(h["__metadata__"]["arch"], "tiny");
  EXPECT_EQ(h["a.num_batches_tracked"]["dtype"], "I64");
  EXPECT_EQ(h["a.num_batches_tracked"]["shape"], json::array());
  EXPECT_EQ(h["a.num_batches_tracked"]["data_offsets"], json({0, 8})) << "8-byte dtypes first";
  EXPECT_EQ(h["a.weight"]["data_offsets"], json({8, 16}));
  EXPECT_EQ(h["b.weight"]["data_offsets"], json({16, 28}));
  EXPECT_EQ(h["b.weight"]["shape"], json({3}));
  EXPECT_EQ(b1.size(), 8 + n + 28) << "no trailing bytes";
  const uint8_t* data = b1.data() + 8 + n;
  int64_t count;
  std::memcpy(&count, data, 8);
  EXPECT_EQ(count, 9);
  float f[5];
  std::memcpy(f, data + 8, sizeof f);
  EXPECT_EQ(f[0], 4.5f);
  EXPECT_EQ(f[1], -1.0f);
  EXPECT_EQ(f[2], 1.0f);
  EXPECT_EQ(f[4], 3.0f);
}

// A file written by hand (as another library would), in every dtype the reader converts.
TEST_F(SafeTensorsTest, ReadsEveryDTypeFromHandMadeBytes) {
  Bytes data;
  auto add = [&](const Bytes& b) { data.insert(data.end(), b.begin(), b.end()); };
  add(raw<float>({1.5f, -2.0f}));                                   // F32  [0, 8)
  add(raw<double>({0.1, -1e300}));                                  // F64  [8, 24)
  add(raw<uint16_t>({0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x03ff}));  // F16 [24, 38)
  add(raw<uint16_t>({0x3f80, 0xc0a0}));                             // BF16 [38, 42)
  add(raw<int64_t>({-7, int64_t{1} << 53}));                        // I64  [42, 58)
  add(raw<int32_t>({-2147483647 - 1, 5}));                          // I32  [58, 66)
  add(raw<int8_t>({-128, 127}));                                    // I8   [66, 68)
  add(raw<uint8_t>({0, 255}));                                      // U8   [68, 70)
  add(raw<uint8_t>({0, 1, 1}));                                     // BOOL [70, 73)
  add(raw<uint16_t>({65535}));                                      // U16  [73, 75)
  const std::string header = R"({"f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("f64":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},)"
                             R"("f16":{"dtype":"F16","shape":[7],"data_offsets":[24,38]},)"
                             R"("bf16":{"dtype":"BF16","shape":[2,1],"data_offsets":[38,42]},)"
                             R"("i64":{"dtype":"I64","shape":[2],"data_offsets":[42,58]},)"
                             R"("i32":{"dtype":"I32","shape":[2],"data_offsets":[58,66]},)"
                             R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[66,68]},)"
                             R"("u8":{"dtype":"U8","shape":[2],"data_offsets":[68,70]},)"
                             R"("bool":{"dtype":"BOOL","shape":[3],"data_offsets":[70,73]},)"
                             R"("u16":{"dtype":"U16","shape":[1],"data_offsets":[73,75],"extra":"ignored"}})"
                             "   ";
  const std::string p = path("dtypes.safetensors");
  write_bytes(p, craft(header, data));
  SafeTensors st = load_safetensors(p);
  auto v = [&](const char* name) { return st.find(name)->value; };
  EXPECT_EQ(v("f32")[0], 1.5f);
  EXPECT_EQ(v("f32")[1], -2.0f);
  EXPECT_EQ(v("f64")[0], 0.1f);
  EXPECT_TRUE(std::isinf(v("f64")[1]) && v("f64")[1] < 0);
  EXPECT_EQ(v("f16")[0], 1.0f);
  EXPECT_EQ(v("f16")[1], -2.0f);
  EXPECT_EQ(v("f16")[2], 65504.0f);                 // largest half
  EXPECT_EQ(v("f16")[3], std::ldexp(1.0f, -24));    // smallest subnormal
  EXPECT_TRUE(std::isinf(v("f16")[4]));
  EXPECT_TRUE(std::signbit(v("f16")[5]) && v("f16")[5] == 0.0f);
  EXPECT_EQ(v("f16")[6], 1023.0f * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(v("bf16").shape(), (Shape{2, 1}));
  EXPECT_EQ(v("bf16")[0], 1.0f);
  EXPECT_EQ(v("bf16")[1], -5.0f);
  EXPECT_EQ(st.find("i64")->ints, (std::vector<int64_t>{-7, int64_t{1} << 53}));
  EXPECT_EQ(v("i64")[0], -7.0f);
  EXPECT_EQ(v("i32")[0], -2147483648.0f);
  EXPECT_EQ(v("i8")[0], -128.0f);
  EXPECT_EQ(v("i8")[1], 127.0f);
  EXPECT_EQ(v("u8")[1], 255.0f);
  EXPECT_EQ(st.find("bool")->ints, (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(v("u16")[0], 65535.0f);
  EXPECT_EQ(st.find("f16")->dtype, DType::F16);

  SafeTensorsHeader h = read_safetensors_header(p);
  ASSERT_EQ(h.entries.size(), 10u);
  EXPECT_EQ(h.entries[0].name, "bf16");  // sorted by name
  EXPECT_EQ(h.entries[0].begin, 38u);
  EXPECT_EQ(h.data_start, 8 + header.size());
  EXPECT_EQ(h.file_size, 8 + header.size() + 75);
}

// ---- validation: one crafted file per rule -------------------------------------------------------------

struct BadCase {
  std::string label;
  Bytes bytes;
  std::string phrase;
};

TEST_F(SafeTensorsTest, EveryValidationRuleHasAClearError) {
  const std::string ok_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const Bytes eight(8, 0);
  auto one = [&](const std::string& entry, const Bytes& data = Bytes(8, 0)) {
    return craft(R"({"a":)" + entry + "}", data);
  };
  std::vector<BadCase> cases = {
      {"short", Bytes{1, 2, 3, 4, 5}, "shorter than the 8-byte header length"},
      {"empty", Bytes{}, "shorter than the 8-byte header length"},
      {"header_past_end", craft(R"({"a":1})", {}, 500), "larger than the file"},
      {"header_absurd", craft(R"({})", {}, int64_t{1} << 40), "absurd"},
      {"header_zero", craft("", {}, 0), "does not start with '{'"},
      {"not_object", craft("[1, 2, 3]"), "not a JSON object"},
      {"json_syntax", craft(R"({"a": {"dtype": "F32",)"), "not valid JSON"},
      {"json_garbage_after", craft(R"({}  xyz)"), "not valid JSON"},
      {"json_bad_utf8", craft("{\"a\xff\": 1}"), "not valid JSON"},
      {"entry_not_object", one("5"), "entry is not a JSON object"},
      {"missing_dtype", one(R"({"shape":[2],"data_offsets":[0,8]})"), "missing field \"dtype\""},
      {"missing_shape", one(R"({"dtype":"F32","data_offsets":[0,8]})"), "missing field \"shape\""},
      {"missing_offsets", one(R"({"dtype":"F32","shape":[2]})"), "missing field \"data_offsets\""},
      {"dtype_not_string", one(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"), "\"dtype\" is not a string"},
      {"dtype_unknown", one(R"({"dtype":"F33","shape":[2],"data_offsets":[0,8]})"), "unknown dtype 'F33'"},
      {"dtype_lowercase", one(R"({"dtype":"f32","shape":[2],"data_offsets":[0,8]})"), "unknown dtype 'f32'"},
      {"dtype_fp8", one(R"({"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]})"), "F8_E4M3 is not supported"},
      {"shape_not_array", one(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"), "\"shape\" is not an array"},
      {"shape_float", one(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"), "non-integer"},
      {"shape_string", one(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})"), "non-integer"},
      {"shape_negative", one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), "negative size"},
      {"shape_absurd_dim", one(R"({"dtype":"F32","shape":[2199023255552],"data_offsets":[0,8]})"), "absurd"},
      {"shape_overflow", one(R"({"dtype":"F32","shape":[1073741824,1073741824,1073741824],"data_offsets":[0,8]})"),
       "absurdly large"},
      {"shape_huge_u64", one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]})"), "absurd"},
      {"shape_too_many_dims", one(R"({"dtype":"F32","shape":[1,1,1,1,1,2],"data_offsets":[0,8]})"),
       "at most 5"},
      {"offsets_one", one(R"({"dtype":"F32","shape":[2],"data_offsets":[8]})"), "not a pair"},
      {"offsets_string", one(R"({"dtype":"F32","shape":[2],"data_offsets":["0",8]})"), "not a pair"},
      {"offsets_negative", one(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"), "not a pair"},
      {"offsets_not_array", one(R"({"dtype":"F32","shape":[2],"data_offsets":{"b":0}})"), "not a pair"},
      {"offsets_reversed", one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), "end before they begin"},
      {"size_mismatch", one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), "needs 12 bytes"},
      {"size_mismatch_dtype", one(R"({"dtype":"F64","shape":[2],"data_offsets":[0,8]})"), "needs 16 bytes"},
      {"out_of_range", one(R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})"), "outside the data buffer"},
      {"truncated_data", one(ok_entry, Bytes(5, 0)), "outside the data buffer"},
      {"overlap", craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", Bytes(12, 0)),
       "overlap"},
      {"overlap_same", craft(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", Bytes(8, 0)),
       "overlap"},
      {"hole", craft(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", Bytes(12, 0)),
       "hole"},
      {"hole_at_start", one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"), "hole"},
      {"trailing", one(ok_entry, Bytes(11, 0)), "trailing bytes"},
      {"trailing_no_tensors", craft("{}", Bytes(3, 0)), "trailing bytes"},
      {"duplicate_name", craft(R"({"a":)" + ok_entry + R"(,"a":)" + ok_entry + "}", eight), "duplicate tensor name 'a'"},
      {"duplicate_field", one(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"),
       "duplicate key 'a.dtype'"},
      {"duplicate_metadata", craft(R"({"__metadata__":{"k":"1","k":"2"}})"), "duplicate key '__metadata__.k'"},
      {"metadata_not_object", craft(R"({"__metadata__":["x"]})"), "__metadata__ is not a JSON object"},
      {"metadata_number", craft(R"({"__metadata__":{"epoch":3}})"), "'epoch' is not a string"},
      {"deep_nesting", one(R"({"dtype":"F32","shape":)" + std::string(100000, '[') + std::string(100000, ']') +
                           R"(,"data_offsets":[0,8]})"),
       "nested more than 16 levels"},
      {"metadata_null", craft(R"({"__metadata__":{"x":null}})"), "'x' is not a string"},
  };
  for (const BadCase& c : cases) {
    const std::string p = path(c.label + ".safetensors");
    write_bytes(p, c.bytes);
    try {
      load_safetensors(p);
      ADD_FAILURE() << c.label << ": no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << c.label << ": message lacks the file name: " << msg;
      EXPECT_NE(msg.find("safetensors"), std::string::npos) << c.label << ": " << msg;
      EXPECT_NE(msg.find(c.phrase), std::string::npos) << c.label << ": expected '" << c.phrase << "' in: " << msg;
    }
    // The header-only reader applies the same rules.
    EXPECT_THROW(read_safetensors_header(p), Error) << c.label;
  }
}

TEST_F(SafeTensorsTest, AcceptsWhatTheSpecAllows) {
  // Spaces and newlines around the JSON, metadata first or last, zero-size tensors sharing an offset,
  // an entry order unlike the data order.
  const std::string header = "{\"__metadata__\":{\"format\":\"pt\"},\n"
                             R"("z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                             R"("e2":{"dtype":"I64","shape":[3,0],"data_offsets":[4,4]},)"
                             R"("a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}       )";
  const std::string p = path("ok.safetensors");
  write_bytes(p, craft(header, raw<float>({2.0f, 3.0f})));
  SafeTensors st = load_safetensors(p);
  ASSERT_EQ(st.tensors.size(), 4u);
  EXPECT_EQ(st.tensors[0].name, "a");
  EXPECT_EQ(st.find("a")->value.shape(), Shape{});
  EXPECT_EQ(st.find("a")->value[0], 3.0f);
  EXPECT_EQ(st.find("z")->value[0], 2.0f);
  EXPECT_EQ(st.find("e2")->value.shape(), (Shape{3, 0}));
  EXPECT_EQ(st.metadata.at("format"), "pt");
}

TEST_F(SafeTensorsTest, MissingFileAndFolderFailWithThePath) {
  const std::string p = path("absent.safetensors");
  try {
    load_safetensors(p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
  try {
    load_safetensors(dir.string());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

// ---- truncation and corruption: always a cxr::Error, never a crash -------------------------------------

static Bytes sample_file() {
  Rng rng(3);
  std::vector<NamedTensor> in = {{"features.0.weight", random_tensor({4, 3, 3, 3}, rng), DType::F32, {}},
                                 {"features.0.bias", random_tensor({4}, rng), DType::F32, {}},
                                 {"features.1.num_batches_tracked", Tensor::from({3}, {}), DType::I64, {}},
                                 {"classifier.weight", random_tensor({3, 4}, rng), DType::F32, {}}};
  return encode_safetensors(in, {{"cxr", R"({"arch":"tiny"})"}, {"format", "pt"}});
}

TEST_F(SafeTensorsTest, EveryTruncationIsAnError) {
  const Bytes full = sample_file();
  ASSERT_NO_THROW(decode_safetensors(full, "full"));
  for (size_t len = 0; len < full.size(); ++len) {
    Bytes cut(full.begin(), full.begin() + static_cast<int64_t>(len));
    EXPECT_THROW(decode_safetensors(cut, "cut"), Error) << "truncated at " << len;
  }
  // And through real files, at a few offsets (inside the length, the header, the data).
  for (size_t len : {size_t{0}, size_t{7}, size_t{8}, size_t{20}, full.size() / 2, full.size() - 1}) {
    const std::string p = path("cut" + std::to_string(len) + ".safetensors");
    write_bytes(p, Bytes(full.begin(), full.begin() + static_cast<int64_t>(len)));
    EXPECT_THROW(load_safetensors(p), Error) << "truncated at " << len;
  }
}

TEST_F(SafeTensorsTest, RandomCorruptionNeverCrashes) {
  const Bytes full = sample_file();
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | full[i];
  Rng rng(11);
  int errors = 0, loaded = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes b = full;
    const int flips = 1 + static_cast<int>(rng.below(3));
    for (int f = 0; f < flips; ++f) {
      // Mostly the header and its length (where the structure is), sometimes anywhere.
      const uint64_t span = rng.below(4) == 0 ? b.size() : 8 + n;
      b[rng.below(span)] = static_cast<uint8_t>(rng.below(256));
    }
    try {
      SafeTensors st = decode_safetensors(b, "fuzz");
      ++loaded;  // a flip inside tensor data (or a harmless header change) still loads
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 1000);
  EXPECT_GT(loaded, 0);
}

// ---- writing -------------------------------------------------------------------------------------------

TEST_F(SafeTensorsTest, WriterRefusesWhatItCannotWriteFaithfully) {
  const Tensor t = Tensor::zeros({2});
  const std::string p = path("w.safetensors");
  EXPECT_THROW(save_safetensors(p, {{"a", t, DType::F32, {}}, {"a", t, DType::F32, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"__metadata__", t, DType::F32, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", Tensor(), DType::F32, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", t, DType::F16, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", Tensor::from({1.5f}, {1}), DType::I64, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", Tensor::from({NAN}, {1}), DType::I64, {}}}), Error);
  EXPECT_THROW(save_safetensors(p, {{"a", t, DType::I64, {1, 2, 3}}}), Error);  // 3 ints for 2 elements
  EXPECT_THROW(save_safetensors(p, {{"bad\xff", t, DType::F32, {}}}), Error);  // not UTF-8
  EXPECT_FALSE(fs::exists(p)) << "a refused write leaves no file";
  try {
    save_safetensors(p, {{"a", Tensor::from({0.5f}, {1}), DType::I64, {}}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
  }
}

TEST_F(SafeTensorsTest, SaveIsAtomicAndReplacesTheOldFile) {
  const std::string p = path("m.safetensors");
  save_safetensors(p, {{"a", Tensor::full({3}, 1.0f), DType::F32, {}}});
  save_safetensors(p, {{"b", Tensor::full({2}, 2.0f), DType::F32, {}}});
  SafeTensors st = load_safetensors(p);
  ASSERT_EQ(st.tensors.size(), 1u);
  EXPECT_EQ(st.tensors[0].name, "b");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "no temporary file left behind";
  EXPECT_THROW(save_safetensors(path("no/such/folder/x.safetensors"), {}), Error);
}
