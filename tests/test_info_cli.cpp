// `cxr info`: a header over the decode limits is an error, and --check decodes every file, so a file cut
// short after its header (which the header alone cannot show) is named, with exit code 1.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "run_cxr.h"

using cxr_test::CliDir;
using cxr_test::read_text;

namespace {

void append_u32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}

// One PNG chunk: length, type, data, CRC of type and data.
void append_chunk(std::string& s, const std::string& type, const std::string& data) {
  append_u32(s, static_cast<uint32_t>(data.size()));
  const std::string td = type + data;
  s += td;
  const auto crc = crc32(0, reinterpret_cast<const Bytef*>(td.data()), static_cast<uInt>(td.size()));
  append_u32(s, static_cast<uint32_t>(crc));
}

// A well-formed 8-bit grey PNG whose header claims w x h pixels, with a few bytes of image data.
std::string png_claiming(uint32_t w, uint32_t h) {
  std::string s = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  append_u32(ihdr, w);
  append_u32(ihdr, h);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);
  append_chunk(s, "IHDR", ihdr);
  std::string raw(1000, '\0');
  uLongf n = compressBound(raw.size());
  std::string z(n, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  z.resize(n);
  append_chunk(s, "IDAT", z);
  append_chunk(s, "IEND", "");
  return s;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST(InfoCli, HeaderOverTheDecodeLimitIsAnError) {
  CliDir cli("cxr_test_info_limit");
  write_bytes(cli.path("huge.png"), png_claiming(100000, 100000));
  EXPECT_EQ(cli.run("info " + cli.path("huge.png")), 1);
  EXPECT_NE(cli.log().find(cli.path("huge.png") + ": the header says 100000 x 100000 pixels, over the decode "
                           "limit of 30000 pixels per side"), std::string::npos) << cli.log();
  // Under the side limit but over the pixel count.
  write_bytes(cli.path("wide.png"), png_claiming(29000, 29000));
  EXPECT_EQ(cli.run("info " + cli.path("wide.png")), 1);
  EXPECT_NE(cli.log().find("= 841000000 pixels, over the decode limit of 300000000"), std::string::npos) << cli.log();
}

TEST(InfoCli, CheckDecodesEveryFileAndNamesTheBadOnes) {
  CliDir cli("cxr_test_info_check");
  const std::string data = cli.path("data");
  ASSERT_EQ(cli.run("synth --out " + data + " --count 2 --size 64"), 0) << cli.log();
  // A copy of one image cut short after its header: the header reads, the pixels do not.
  std::string good;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data))
    if (e.path().extension() == ".png" && e.path().string().find("/masks/") == std::string::npos) {
      good = e.path().string();
      break;
    }
  ASSERT_FALSE(good.empty());
  const std::string bytes = read_text(good);
  write_bytes(cli.path("cut.png"), bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(cli.run("info " + good + " " + cli.path("cut.png")), 0) << "the header alone looks fine\n" << cli.log();
  EXPECT_EQ(cli.run("info --check " + good + " " + cli.path("cut.png")), 1);
  EXPECT_NE(cli.log().find("cxr info: error: " + cli.path("cut.png") + ": truncated PNG file"), std::string::npos)
      << cli.log();
  EXPECT_NE(cli.log().find(good + ": PNG 64 x 64, 1 channel, 8-bit, mode L, decoded"), std::string::npos) << cli.log();
  EXPECT_NE(cli.log().find("Checked 2 files: 1 decoded, 1 could not be read"), std::string::npos) << cli.log();
  // A whole dataset, by its manifest: every image decoded.
  EXPECT_EQ(cli.run("info --check " + data + "/manifest.csv"), 0) << cli.log();
  EXPECT_NE(cli.log().find("Checked 18 files: 18 decoded, 0 could not be read"), std::string::npos) << cli.log();
  // A checkpoint cut short is named too (its header may still read).
  ASSERT_EQ(cli.run("train --data " + data + " --arch seedcnn --size 64 --head gap --epochs 1 --max-steps 1 --batch 4 "
                    "--out " + cli.path("run")), 0) << cli.log();
  const std::string ck = read_text(cli.path("run/last.safetensors"));
  write_bytes(cli.path("cut.safetensors"), ck.substr(0, ck.size() - 100));
  EXPECT_EQ(cli.run("info --check " + cli.path("cut.safetensors")), 1);
  EXPECT_NE(cli.log().find(cli.path("cut.safetensors")), std::string::npos) << cli.log();
  EXPECT_EQ(cli.run("info --check " + cli.path("run/last.safetensors")), 0) << cli.log();
  EXPECT_NE(cli.log().find("every tensor read"), std::string::npos) << cli.log();
}
