// Inputs the fuzzers (tests/fuzz, `make fuzz`) found that crashed cxr, ran it out of memory or let a foreign
// exception escape, each kept byte for byte as found (or minimised) with the clear cxr::Error it now gets.
// docs/RELIABILITY.md ("Fuzzing") lists them with their fixes.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "error_of.h"
#include "image/png.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "report/report.h"

using namespace cxr;
using namespace cxr::io;
using namespace cxr::image;

namespace {

#define EXPECT_HAS(msg, phrase) EXPECT_NE((msg).find(phrase), std::string::npos) << (msg)

namespace fs = std::filesystem;

// The bytes as a file (the checkpoint readers take a path), in a folder of this process's own.
std::string write_temp(const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_test_fuzz_regressions_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A safetensors file: the 8-byte little-endian header length, the header, then `data`.
std::string safetensors_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

}  // namespace

// fuzz_png, out of memory: an iTXt chunk whose length field says 1,883,789,683 bytes in a 116-byte file.
// libpng allocated the claimed length before reading (its chunk size limit is only a warning), so decoding
// or even probing the file asked for 1.8 GB. Now the chunk table is checked first (kMaxPngChunkBytes).
TEST(FuzzRegressions, PngChunkLengthOverTheLimitIsRefusedBeforeLibpngAllocatesIt) {
  const std::vector<uint8_t> b = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
      0x00, 0x07, 0x00, 0x00, 0x00, 0x05, 0x02, 0x03, 0x00, 0x00, 0x00, 0xf4, 0xf4, 0x1e, 0x4b, 0x00, 0x00, 0x00,
      0x0c, 0x50, 0x4c, 0x54, 0x45, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0xff, 0x9b,
      0xc0, 0x13, 0xdc, 0x00, 0x00, 0x00, 0x04, 0x74, 0x52, 0x4e, 0x53, 0x00, 0x80, 0xff, 0xff, 0xec, 0x80, 0x6f,
      0xe5, 0x70, 0x48, 0x59, 0x73, 0x69, 0x54, 0x58, 0x74, 0x49, 0x44, 0x41, 0x54, 0x08, 0x99, 0x63, 0x60, 0x60,
      0x65, 0x60, 0x14, 0x60, 0x10, 0x11, 0x64, 0x60, 0x74, 0x61, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x60, 0x09, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  const std::string want =
      "fuzz.png: corrupt PNG file: chunk 'iTXt' at byte 73 claims 1883789683 bytes, more than the limit of 8000000";
  EXPECT_HAS(error_of([&] { decode_image(b, "fuzz.png"); }), want);
  EXPECT_HAS(error_of([&] { detail::probe_png(b.data(), b.size(), "fuzz.png"); }), want);
}

// fuzz_safetensors, an exception escaping: the number 31e3002 (a data offset) in the header. nlohmann throws
// out_of_range (406, number overflow) for it, not parse_error, and only parse_error was caught, so the
// process ended on an uncaught exception. Now every json::exception is a cxr::Error naming the file.
// The 224-byte input as found.
TEST(FuzzRegressions, SafetensorsHeaderNumberOverflowIsAnErrorNamingTheFile) {
  const std::vector<uint8_t> b = {
      0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7b, 0x22, 0x5f, 0x5f, 0x6d, 0x65, 0x74, 0x61, 0x64, 0x61,
      0x74, 0x61, 0x5f, 0x5f, 0x22, 0x3a, 0x7b, 0x22, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45, 0x45,
      0x45, 0x45, 0x45, 0x66, 0x6f, 0x72, 0x6d, 0x61, 0x74, 0x22, 0x3a, 0x22, 0x70, 0x74, 0x22, 0x7d, 0x2c, 0x22,
      0x61, 0x22, 0x3a, 0x7b, 0x22, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x6f, 0x65, 0x66, 0x73, 0x66, 0x74, 0x73, 0x22,
      0x3a, 0x5b, 0x38, 0x2c, 0x33, 0x31, 0x65, 0x33, 0x30, 0x30, 0x32, 0x5d, 0x2c, 0x22, 0x64, 0x74, 0x79, 0x70,
      0x65, 0x22, 0x39, 0x32, 0x32, 0x33, 0x33, 0x37, 0x32, 0x30, 0x33, 0x36, 0x38, 0x35, 0x34, 0x37, 0x37, 0x35,
      0x38, 0x30, 0x37, 0x5d, 0x7d, 0x2c, 0x22, 0x62, 0x2e, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x22, 0x3a, 0x7b,
      0x66, 0x73, 0x65, 0x62, 0x62, 0x36, 0x73, 0x22};
  const std::string want =
      "fuzz.safetensors: safetensors: header is not valid JSON: [json.exception.out_of_range.406] number overflow "
      "parsing '31e3002'";
  EXPECT_EQ(error_of([&] { io::decode_safetensors(b, "fuzz.safetensors"); }), want);
}

// fuzz_checkpoint, the same exception: the fuzzer turned one data offset of a VGG-11 checkpoint (6,589
// bytes, one of its seeds) into 3e6252. It escaped from `cxr info` (describe_checkpoint ->
// read_safetensors_header), so the fix of the safetensors reader above is what fixed it. Minimised by hand
// to the one entry that matters (the exception came from the JSON parser, before anything else was read):
// the tensor name, offset pair and fields are the input's own.
TEST(FuzzRegressions, CheckpointHeaderNumberOverflowIsAnErrorNamingTheFile) {
  const std::string path = write_temp(
      "overflow.safetensors",
      safetensors_file(R"({"features.26.weight":{"data_offsets":[3e6252,36316],"dtype":"F32","shape":[16]}})"));
  const std::string want =
      path + ": safetensors: header is not valid JSON: [json.exception.out_of_range.406] number overflow parsing "
             "'3e6252'";
  EXPECT_EQ(error_of([&] { io::describe_checkpoint(path); }), want);
  EXPECT_EQ(error_of([&] { io::read_checkpoint_meta(path); }), want);
}

// The same number inside the checkpoint's own metadata (the JSON string under "cxr"): io/checkpoint.cpp
// parses that string with its own call, which caught only parse_error too; fixed at the same time (by
// reading, not found by the fuzzer). Built by hand.
TEST(FuzzRegressions, CheckpointMetadataNumberOverflowIsAnErrorNamingTheFile) {
  const std::string path = write_temp("meta.safetensors", safetensors_file(R"({"__metadata__":{"cxr":"3e6252"}})"));
  const std::string want =
      path + ": metadata 'cxr' is not valid JSON: [json.exception.out_of_range.406] number overflow parsing "
             "'3e6252'";
  EXPECT_EQ(error_of([&] { io::describe_checkpoint(path); }), want);
  EXPECT_EQ(error_of([&] { io::read_checkpoint_meta(path); }), want);
}

// fuzz_run_folder, undefined behaviour: `cxr eval --json` output (the harness's first byte 3 picks that
// reader) whose confusion matrix holds 2999...9 (92 digits; nlohmann reads it as a double). It was converted
// to int: UBSan "outside the range of representable values of type int" (without a sanitizer the garbage
// count went through, and this file happened to be refused later for its per_source table). Now
// report/gather.cpp checks every entry is a count in [0, 2^31) first. The 372 bytes after the selector
// byte, as found. eval_from_json has no file name; `cxr report --eval FILE` (gather_report) puts it in front.
TEST(FuzzRegressions, EvalJsonConfusionEntryOutOfIntRangeIsAnError) {
  const std::string text =
      R"({"count":4,"accuracy":0.75,"macr":0.5,"confusion":[[)"
      "29999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
      R"(,0],[1,1]],"classes":[{"name":"A","precision":0.6,"reconfusion":[[2,0],[1,1]],"classes":[{"name":"A",)"
      R"("precision":0.6,"recall":1,"f1pport":2}],"per_all":1,"f1pport":2}],"per_source":{"x":{"correct":3,)"
      R"("total":4,"confusion":[[]]}}})";
  ASSERT_EQ(text.size(), 372u);
  EXPECT_EQ(error_of([&] { report::eval_from_json(io::parse_json_text(text, "eval.json")); }),
            "confusion is not a table of counts");
}

// fuzz_run_folder, undefined behaviour (the long runs of this round): the same reader's "count" of 1e73, a
// double converted to int by j.value("count", 0). Every count field (count, a class's support, a source's
// correct / total) now goes through strict_count: an integer in [0, 2^31) or an error naming the field.
// The 219 bytes after the selector byte, as found.
TEST(FuzzRegressions, EvalJsonCountOutOfIntRangeIsAnError) {
  const std::string text =
      R"({"count":1e73,"accuracy":0.75,"macro_f1":0,"loss":0.5,"confusion":[[2,0],[1,1]],"classes":[{"name":"A",)"
      R"("preci'ion":0.6,"recall":1,"f1":0.75,"roc":2}],"pev_source":{"x":{"correct":3,"total":4,"confusion":[[2,)"
      R"(0],[1,1]]}}})";
  ASSERT_EQ(text.size(), 219u);
  EXPECT_EQ(error_of([&] { report::eval_from_json(io::parse_json_text(text, "eval.json")); }),
            "count is not a count: 1e+73");
  // The other count fields, past the first one.
  const std::string good = R"({"count":4,"accuracy":0.75,"confusion":[[2,0],[1,1]],"classes":[{"name":"A")";
  EXPECT_EQ(error_of([&] { report::eval_from_json(io::parse_json_text(good + R"(,"support":-2}]})", "e.json")); }),
            "support is not a count: -2");
  EXPECT_EQ(error_of([&] {
              report::eval_from_json(io::parse_json_text(good + R"(}],"per_source":{"x":{"total":3.5}}})", "e.json"));
            }),
            "total is not a count: 3.5");
}
