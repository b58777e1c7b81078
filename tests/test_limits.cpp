// Limits a file cannot talk its way past (docs/RELIABILITY.md, "Limits"): every parser of outside bytes
// refuses an input over its limit with a cxr::Error naming the file and the limit, before it allocates
// for it. One test per limit; the fuzzers' findings are in test_fuzz_regressions.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "error_of.h"
#include "explain/npy.h"
#include "image/exif.h"
#include "image/image.h"
#include "image/jpeg.h"
#include "image/png.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "jpeg_writer.h"
#include "train/history.h"
#include "train/run_files.h"

namespace fs = std::filesystem;
using namespace cxr;
using namespace cxr::io;
using namespace cxr::data;
using namespace cxr::image;

namespace {

#define EXPECT_HAS(msg, phrase) EXPECT_NE((msg).find(phrase), std::string::npos) << (msg)

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("cxr_test_limits_" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}

// A file of `size` bytes that takes no disk space (a hole), to test size limits checked before reading.
std::string sparse_file(const std::string& name, uint64_t size) {
  const std::string path = (temp_dir() / name).string();
  { std::ofstream(path, std::ios::binary) << "x"; }
  fs::resize_file(path, size);
  return path;
}

// A flat grey JPEG (libjpeg's default quality, 75).
std::string tiny_jpeg(int w, int h) {
  return cxr_test::make_jpeg(w, h, 1, JCS_GRAYSCALE, std::vector<uint8_t>(static_cast<size_t>(w) * h, 128), 75);
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::vector<uint8_t> safetensors_with_header(const std::string& header) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(header.size() >> (8 * i));
  s += header;
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace

// --- images ---------------------------------------------------------------------------------------------

TEST(Limits, ImageLimitsAreOneDefinitionForEveryCodec) {
  const DecodeLimits d;
  EXPECT_EQ(d.max_side, kMaxImageSide);
  EXPECT_EQ(d.max_pixels, kMaxImagePixels);
  EXPECT_EQ(d.max_bytes, kMaxDecodedBytes);
  // A header within side and pixel limits but over the decoded bytes: 20000 x 15000 x 4 channels x 4 bytes.
  std::string msg = error_of([&] { check_decode_limits("big.png", 20000, 15000, 4, d); });
  EXPECT_HAS(msg, "big.png: image is 20000 x 15000 x 4 channels = 4800000000 bytes decoded, more than the limit of "
                  "4294967296 bytes");
}

TEST(Limits, PngAndJpegRefuseDecodedBytesOverTheLimit) {
  DecodeLimits small;
  small.max_bytes = 1000;  // a 16 x 16 gray image decodes to 1024 bytes
  const std::string png = detail::encode_png(Tensor::zeros({1, 16, 16}), "t");
  std::string msg = error_of([&] { detail::decode_png(u8(png), png.size(), "a.png", small); });
  EXPECT_HAS(msg, "a.png: image is 16 x 16 x 1 channels = 1024 bytes decoded, more than the limit of 1000 bytes");
  const std::string jpg = tiny_jpeg(16, 16);
  msg = error_of([&] { detail::decode_jpeg(u8(jpg), jpg.size(), "a.jpg", small); });
  EXPECT_HAS(msg, "a.jpg: image is 16 x 16 x 1 channels = 1024 bytes decoded, more than the limit of 1000 bytes");
  // The same images within the limits decode.
  small.max_bytes = 1024;
  EXPECT_EQ(detail::decode_jpeg(u8(jpg), jpg.size(), "a.jpg", small).width(), 16);
  EXPECT_EQ(detail::decode_png(u8(png), png.size(), "a.png", small).width(), 16);
}

TEST(Limits, JpegRefusesPixelsOverTheLimit) {
  DecodeLimits small;
  small.max_pixels = 255;
  const std::string jpg = tiny_jpeg(16, 16);
  std::string msg = error_of([&] { detail::decode_jpeg(u8(jpg), jpg.size(), "b.jpg", small); });
  EXPECT_HAS(msg, "b.jpg: image is 16 x 16 = 256 pixels, more than the limit of 255");
}

TEST(Limits, ExifPayloadOverTheLimitIsIgnored) {
  // A little-endian TIFF with Orientation = 6 (rotate 90), then padding up to the size under test.
  std::string tiff("II\x2a\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00",
                   26);
  std::string app1 = std::string("Exif\0\0", 6) + tiff;
  app1.resize(kMaxExifBytes, '\0');
  EXPECT_EQ(exif_orientation(u8(app1), app1.size()), 6);
  app1.push_back('\0');
  EXPECT_EQ(exif_orientation(u8(app1), app1.size()), 1);
}

// --- safetensors ----------------------------------------------------------------------------------------

TEST(Limits, SafetensorsHeaderLengthOverTheLimit) {
  std::vector<uint8_t> b(16, ' ');
  const uint64_t n = kMaxSafetensorsHeaderBytes + 1;
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (8 * i));
  std::string msg = error_of([&] { decode_safetensors(b, "h.safetensors"); });
  EXPECT_HAS(msg, "h.safetensors: safetensors: header length 100000001 is absurd (the limit is 100000000 bytes)");
}

TEST(Limits, SafetensorsTensorBytesOverTheLimitBeforeAllocating) {
  // 2^32 + 1 F32 values need 16 GiB + 4 bytes; the file holds none of them (the size check comes after the
  // limit), and nothing is allocated.
  auto b = safetensors_with_header(R"({"w":{"dtype":"F32","shape":[65536,65537],"data_offsets":[0,17180131328]}})");
  std::string msg = error_of([&] { decode_safetensors(b, "t.safetensors"); });
  EXPECT_HAS(msg, "t.safetensors: safetensors: the tensors need more than 17179869184 bytes as float32 (the limit; "
                  "at 'w')");
  // Stored as U8 the data is a quarter of that, but cxr holds float32: the limit counts what is allocated.
  b = safetensors_with_header(R"({"u":{"dtype":"U8","shape":[4294967297],"data_offsets":[0,4294967297]}})");
  msg = error_of([&] { decode_safetensors(b, "u.safetensors"); });
  EXPECT_HAS(msg, "u.safetensors: safetensors: the tensors need more than 17179869184 bytes as float32");
}

TEST(Limits, SafetensorsTensorCountOverTheLimit) {
  std::string h = "{";
  for (size_t i = 0; i <= kMaxSafetensorsTensors; ++i)
    h += std::string(i ? "," : "") + "\"t" + std::to_string(i) + R"(":{"dtype":"U8","shape":[0],"data_offsets":[0,0]})";
  h += "}";
  std::string msg = error_of([&] { decode_safetensors(safetensors_with_header(h), "n.safetensors"); });
  EXPECT_HAS(msg, "n.safetensors: safetensors: header lists 10001 tensors, more than the limit of 10000");
}

// --- manifests ------------------------------------------------------------------------------------------

TEST(Limits, ManifestFieldLengthOverTheLimit) {
  std::string csv = "file,label\n" + std::string(kMaxCsvFieldBytes, 'a') + ".png,NORMAL\n";
  std::string msg = error_of([&] { parse_manifest(csv, "m/manifest.csv"); });
  EXPECT_HAS(msg, "m/manifest.csv:2: a field longer than the limit of 65536 bytes");
  csv = "file,label\n" + std::string(kMaxCsvFieldBytes - 4, 'a') + ".png,NORMAL\n";  // 65536 bytes: fine
  EXPECT_EQ(parse_manifest(csv, "m/manifest.csv").size(), 1);
}

TEST(Limits, ManifestRowsOverTheLimit) {
  std::string csv = "file,label\n";
  for (size_t i = 0; i < kMaxCsvRows; ++i) csv += "a,b\n";  // header + kMaxCsvRows rows
  std::string msg = error_of([&] { parse_manifest(csv, "big.csv"); });
  EXPECT_HAS(msg, "big.csv:1000001: more than the limit of 1000000 rows");
}

TEST(Limits, ManifestFileSizeOverTheLimitIsNotRead) {
  const std::string path = sparse_file("huge.csv", kMaxManifestBytes + 1);
  std::string msg = error_of([&] { open_manifest(path); });
  EXPECT_HAS(msg, path + ": manifest is 268435457 bytes, more than the limit of 268435456 bytes");
}

// --- JSON and the run folder ----------------------------------------------------------------------------

TEST(Limits, JsonDepthOverTheLimit) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(parse_json_text(ok, "ok.json"));
  const std::string deep = "[" + ok + "]";
  std::string msg = error_of([&] { parse_json_text(deep, "deep.json"); });
  EXPECT_HAS(msg, "deep.json: JSON is nested more than 64 levels deep (the limit)");
}

TEST(Limits, JsonFileSizeOverTheLimitIsNotRead) {
  const std::string path = sparse_file("state.json", kMaxJsonFileBytes + 1);
  std::string msg = error_of([&] { read_json_file(path); });
  EXPECT_HAS(msg, path + ": file is 67108865 bytes, more than the limit of 67108864 bytes for a JSON file");
  msg = error_of([&] { parse_json_text(std::string(kMaxJsonFileBytes + 1, ' '), "eval.json"); });
  EXPECT_HAS(msg, "eval.json: file is 67108865 bytes, more than the limit");
}

TEST(Limits, RunFolderJsonFieldsOfTheWrongKindOrRange) {
  auto state = [](const std::string& text) {
    return error_of([&] { run_state_from_json(parse_json_text(text, "run/state.json"), "run/state.json"); });
  };
  const std::string fields = R"("best_val_loss": 0.5, "best_epoch": 1, "bad_epochs": 0)";
  EXPECT_HAS(state(R"({"epochs_done": 1e300, )" + fields + "}"),
             "run/state.json: 'epochs_done' is a number (1e+300), expected a whole number within +-2^31");
  EXPECT_HAS(state(R"({"epochs_done": 4294967296, )" + fields + "}"), "'epochs_done' is a whole number (4294967296)");
  EXPECT_HAS(state(R"({"epochs_done": "3", )" + fields + "}"), "run/state.json: 'epochs_done' is string");
  EXPECT_HAS(state(R"({)" + fields + "}"), "run/state.json: 'epochs_done' is missing");
  EXPECT_HAS(state(R"({"epochs_done": 0, )" + fields + "}"), "do not describe a run");
  EXPECT_HAS(state("[1]"), "run/state.json: expected a JSON object, got array");
  const RunState s = run_state_from_json(parse_json_text(R"({"epochs_done": 2, )" + fields + "}", "s"), "s");
  EXPECT_EQ(s.epochs_done, 2);
  EXPECT_EQ(s.best_epoch, 1);

  auto config = [](const std::string& text) {
    return error_of([&] { train_config_from_json(parse_json_text(text, "run/config.json"), "run/config.json"); });
  };
  EXPECT_HAS(config(R"({"epochs": 1e300})"), "run/config.json: 'epochs' is a number (1e+300)");
  EXPECT_HAS(config(R"({"seed": -1})"), "run/config.json: 'seed' is a whole number (-1), expected a non-negative");
  EXPECT_HAS(config(R"({"arch": 16})"), "run/config.json: 'arch' is a whole number (16), expected string");
  EXPECT_HAS(config(R"({"exclude_sources": [1]})"), "run/config.json: not a cxr training configuration");
  EXPECT_EQ(train_config_from_json(parse_json_text(R"({"epochs": 7, "lr": 1})", "c"), "c").epochs, 7);
  // The optimizer and schedule are enums read from, and written as, the names config.json has always held.
  EXPECT_HAS(config(R"({"opt": "rmsprop"})"), "run/config.json: unknown optimizer 'rmsprop' (use adam, adamw or sgd)");
  EXPECT_HAS(config(R"({"schedule": "step"})"),
             "run/config.json: unknown schedule 'step' (use none, plateau or cosine)");
  EXPECT_HAS(config(R"({"opt": 1})"), "run/config.json: 'opt' is a whole number (1), expected string");
  EXPECT_HAS(config(R"({"freeze": "all"})"), "run/config.json: --freeze: unknown part 'all' (use features)");
  const TrainConfig named =
      train_config_from_json(parse_json_text(R"({"opt": "sgd", "schedule": "cosine"})", "c"), "c");
  EXPECT_EQ(named.opt, OptimizerKind::sgd);
  EXPECT_EQ(named.schedule, LrSchedule::cosine);
  const nlohmann::json written(named);
  EXPECT_EQ(written.at("opt"), "sgd");
  EXPECT_EQ(written.at("schedule"), "cosine");
  EXPECT_EQ(nlohmann::json(TrainConfig{}).at("opt"), "adam");
  EXPECT_EQ(nlohmann::json(TrainConfig{}).at("schedule"), "plateau");
  for (OptimizerKind k : {OptimizerKind::adam, OptimizerKind::adamw, OptimizerKind::sgd})
    EXPECT_EQ(parse_optimizer(name(k)), k);
  for (LrSchedule k : {LrSchedule::none, LrSchedule::plateau, LrSchedule::cosine})
    EXPECT_EQ(parse_schedule(name(k)), k);
}

TEST(Limits, HistoryRowsAndSizeOverTheLimit) {
  std::string csv = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n";
  for (size_t i = 1; i <= kMaxHistoryRows + 1; ++i) csv += "1,1,1,1,1,1,1\n";
  std::string msg = error_of([&] { parse_history_csv(csv, "run/history.csv"); });
  EXPECT_HAS(msg, "run/history.csv:100002: more than the limit of 100000 epochs");
  const std::string path = sparse_file("history.csv", kMaxHistoryBytes + 1);
  msg = error_of([&] { read_history_csv(path); });
  EXPECT_HAS(msg, path + ": file is 67108865 bytes, more than the limit of 67108864 bytes for a training history");
}

TEST(Limits, NpyShapeIsCheckedAgainstTheDataBeforeAllocating) {
  std::string b = encode_npy(Tensor::zeros({2, 3}));
  const size_t at = b.find("(2, 3)");
  ASSERT_NE(at, std::string::npos);
  b.replace(at, 6, "(999999999, 999999)");  // 4e15 bytes claimed, 24 present
  std::string msg = error_of([&] { decode_npy(b, "m.npy"); });
  EXPECT_HAS(msg, "m.npy: data is");
  EXPECT_HAS(msg, "needs more");
}
