// Image I/O: the real chest X-rays in ../shared (size, mode and pixel statistics from Pillow), PNG and JPEG
// variants written here with libpng/libjpeg (16-bit, gray+alpha, palette+tRNS, Adam7, 1/2/4-bit, progressive,
// CMYK, EXIF orientation), save_png round trips, every kind of broken file, and `cxr info`.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

// jpeglib.h needs FILE and size_t first.
#include <cstdio>
#include <cstddef>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "error_of.h"
#include "image/exif.h"
#include "image/image.h"
#include "jpeg_writer.h"

using namespace cxr;
using namespace cxr::image;
using cxr_test::make_jpeg;
namespace fs = std::filesystem;

namespace {

// ---- helpers -------------------------------------------------------------------------------------------

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cxr-test-image-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Every decode error must start with the path and contain a phrase saying what is wrong.
void expect_load_error(const std::string& path, const std::string& phrase, const DecodeLimits& limits = {}) {
  std::string msg = error_of([&] { load_image(path, limits); });
  EXPECT_EQ(msg.rfind(path, 0), 0u) << "message does not start with the path: " << msg;
  EXPECT_NE(msg.find(phrase), std::string::npos) << "expected '" << phrase << "' in: " << msg;
}

// A PNG written by libpng exactly as described; rows are packed as PNG stores them (MSB-first bits,
// big-endian 16-bit). libpng's default error handler aborts, which is fine for a test helper.
struct PngSpec {
  int width = 0, height = 0, bit_depth = 8, color_type = PNG_COLOR_TYPE_GRAY;
  bool interlace = false;
  std::vector<png_color> palette;
  std::vector<uint8_t> trns_alpha;  // palette images
  bool has_trns_color = false;      // gray / RGB images
  png_color_16 trns_color{};
};

PngSpec spec(int w, int h, int bit_depth, int color_type) {
  PngSpec s;
  s.width = w;
  s.height = h;
  s.bit_depth = bit_depth;
  s.color_type = color_type;
  return s;
}

void append_to_string(png_structp png, png_bytep data, size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

std::string make_png(const PngSpec& s, std::vector<std::vector<uint8_t>> rows) {
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, append_to_string, nullptr);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), static_cast<int>(s.palette.size()));
  if (!s.trns_alpha.empty())
    png_set_tRNS(png, info, s.trns_alpha.data(), static_cast<int>(s.trns_alpha.size()), nullptr);
  if (s.has_trns_color) {
    png_color_16 c = s.trns_color;
    png_set_tRNS(png, info, nullptr, 0, &c);
  }
  png_write_info(png, info);
  std::vector<png_bytep> ptrs;
  for (auto& r : rows) ptrs.push_back(r.data());
  png_write_image(png, ptrs.data());  // does the Adam7 passes itself
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// One PNG chunk with a correct CRC.
std::string chunk(const std::string& type, const std::string& data) {
  std::string out;
  const uint32_t n = static_cast<uint32_t>(data.size());
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((n >> s) & 0xff);
  std::string body = type + data;
  out += body;
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((crc >> s) & 0xff);
  return out;
}

std::string be32(uint32_t v) {
  std::string s;
  for (int k = 24; k >= 0; k -= 8) s += static_cast<char>((v >> k) & 0xff);
  return s;
}

// A PNG with the given IHDR and a small (meaningless) IDAT: enough for a decoder to read the header.
std::string png_with_header(uint32_t w, uint32_t h, int bit_depth = 8, int color_type = 0) {
  std::string ihdr = be32(w) + be32(h);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(color_type);
  ihdr += std::string(3, '\0');
  std::string idat = std::string("\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
}

// EXIF APP1 payload: "Exif\0\0" + a TIFF header + IFD0 holding only Orientation (SHORT).
std::string exif_app1(int orientation, bool big_endian) {
  auto u16 = [&](int v) {
    std::string s(2, '\0');
    s[big_endian ? 0 : 1] = static_cast<char>((v >> 8) & 0xff);
    s[big_endian ? 1 : 0] = static_cast<char>(v & 0xff);
    return s;
  };
  auto u32 = [&](uint32_t v) { return big_endian ? u16(v >> 16) + u16(v & 0xffff) : u16(v & 0xffff) + u16(v >> 16); };
  std::string t = big_endian ? "MM" : "II";
  t += u16(42) + u32(8);                    // TIFF magic, IFD0 at offset 8
  t += u16(1);                              // one entry
  t += u16(0x0112) + u16(3) + u32(1);       // Orientation, SHORT, count 1
  t += u16(orientation) + u16(0);           // value, left-justified in the 4-byte field
  t += u32(0);                              // no next IFD
  return std::string("Exif\0\0", 6) + t;
}

// A smooth RGB test picture (JPEG-friendly), interleaved.
std::vector<uint8_t> smooth_rgb(int w, int h) {
  std::vector<uint8_t> p(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* q = &p[(static_cast<size_t>(y) * w + x) * 3];
      q[0] = static_cast<uint8_t>(40 + 150 * x / w);
      q[1] = static_cast<uint8_t>(200 - 120 * y / h);
      q[2] = static_cast<uint8_t>(90 + 60 * (x + y) / (w + h));
    }
  return p;
}

float sample(const Image& im, int c, int y, int x) { return im.pixels.at({c, y, x}); }

// Position of the first byte after the SOFn marker's length: [P][H H][W W] follow.
size_t sof_offset(const std::string& jpg) {
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (static_cast<uint8_t>(jpg[i]) == 0xff && (static_cast<uint8_t>(jpg[i + 1]) == 0xc0 ||
                                                  static_cast<uint8_t>(jpg[i + 1]) == 0xc2))
      return i + 4;
  return 0;
}

std::string shared_dir() { return std::string(CXR_SHARED_DIR) + "/data/cxr-originals"; }

}  // namespace

// ---- the real X-rays -----------------------------------------------------------------------------------

TEST(Originals, DecodeAsIndexAndPillowSay) {
  const std::string dir = shared_dir();
  if (!fs::exists(dir + "/INDEX.csv")) GTEST_SKIP() << dir << "/INDEX.csv not found (no shared data here)";
  // Mean and standard deviation of all decoded values (uint8 / 255), computed by Pillow 9 (palette
  // images converted to RGB as Pillow does), independently of this code.
  const std::map<std::string, std::pair<double, double>> pil = {
      {"COVID19/hannover_0cea09eb.png", {0.5821155, 0.1232718}},
      {"COVID19/ieee_tpmd200203f2-a.png", {0.5844875, 0.2440781}},
      {"COVID19/cxnet_410.jpeg", {0.6278380, 0.1902351}},
      {"COVID19/cxnet_747.png", {0.6887959, 0.2177988}},
      {"COVID19/actualmed_CR.1.2.840.113564.1722810170.20200330111806125940.1003000225002.png", {0.4786066, 0.1684530}},
      {"COVID19/figure1_COVID-00012.jpg", {0.5980282, 0.2232377}},
      {"NORMAL/nih_00001986_011.png", {0.4507241, 0.1986446}},
      {"NORMAL/nih_00003211_004.png", {0.5107570, 0.3098205}},
      {"NORMAL/kermany_NORMAL2-IM-1206-0001.jpeg", {0.4311129, 0.2572435}},
      {"NORMAL/kermany_IM-0740-0001.jpeg", {0.3913684, 0.2335645}},
      {"NORMAL/kermany_IM-0297-0001.jpeg", {0.5613523, 0.2394928}},
      {"NORMAL/kermany_NORMAL2-IM-0449-0001.jpeg", {0.4398517, 0.2344963}},
      {"NORMAL/actualmed_CR.1.2.840.113564.1722810170.20200418154808640220.1003000225002.png", {0.5008325, 0.2833956}},
      {"NORMAL/nih_00003356_000.png", {0.5525992, 0.1606742}},
      {"NORMAL/figure1_COVID-00023.jpg", {0.5461727, 0.1495645}},
      {"PNEUMONIA/nih_00006869_000.png", {0.6352757, 0.1985201}},
      {"PNEUMONIA/nih_00001317_002.png", {0.4331410, 0.2586365}},
      {"PNEUMONIA/nih_00004808_003.png", {0.7516091, 0.1868934}},
      {"PNEUMONIA/kermany_person1343_bacteria_3419.jpeg", {0.4982460, 0.2729256}},
      {"PNEUMONIA/kermany_person88_virus_165.jpeg", {0.5381584, 0.2199919}},
      {"PNEUMONIA/kermany_person630_virus_1209.jpeg", {0.5483037, 0.1894559}},
      {"PNEUMONIA/kermany_person120_virus_226.jpeg", {0.5759141, 0.2650199}},
      {"PNEUMONIA/ieee_000010-5.jpg", {0.5843861, 0.3111549}},
      {"PNEUMONIA/ieee_16583_1_1.jpg", {0.3521861, 0.1563280}},
      {"PNEUMONIA/figure1_COVID-00034.jpg", {0.5412169, 0.2256598}},
  };
  std::ifstream csv(dir + "/INDEX.csv");
  std::string line;
  std::getline(csv, line);
  std::map<std::string, size_t> col;
  {
    std::stringstream ss(line);
    std::string name;
    for (size_t i = 0; std::getline(ss, name, ','); ++i) col[name] = i;
  }
  for (const char* need : {"file", "format", "mode", "width", "height", "progressive", "bit_depth"})
    ASSERT_TRUE(col.count(need)) << "INDEX.csv has no column " << need;
  int checked = 0;
  while (std::getline(csv, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    f.resize(col.size());
    const std::string file = f[col["file"]], path = dir + "/" + file;
    SCOPED_TRACE(file);
    Image im = load_image(path);
    EXPECT_EQ(im.info.format, f[col["format"]]);
    EXPECT_EQ(im.info.mode, f[col["mode"]]);
    EXPECT_EQ(im.info.width, std::stoi(f[col["width"]]));
    EXPECT_EQ(im.info.height, std::stoi(f[col["height"]]));
    EXPECT_EQ(im.info.bit_depth, std::stoi(f[col["bit_depth"]]));
    EXPECT_EQ(im.info.progressive, f[col["progressive"]] == "1");
    EXPECT_EQ(im.width(), im.info.width);  // no EXIF rotation in this set
    EXPECT_EQ(im.height(), im.info.height);
    const std::map<std::string, int> channels = {{"L", 1}, {"LA", 2}, {"RGB", 3}, {"RGBA", 4}, {"P", 3}};
    if (channels.count(im.info.mode)) {
      EXPECT_EQ(im.channels(), channels.at(im.info.mode));
    }
    ImageInfo probed = probe_image(path);
    EXPECT_EQ(probed.width, im.info.width);
    EXPECT_EQ(probed.mode, im.info.mode);
    EXPECT_EQ(probed.channels, im.channels());
    auto it = pil.find(file);
    if (it != pil.end()) {
      double s = 0, s2 = 0;
      for (int64_t i = 0; i < im.pixels.numel(); ++i) {
        s += im.pixels[i];
        s2 += double(im.pixels[i]) * im.pixels[i];
      }
      const double n = double(im.pixels.numel()), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
      // PNG is lossless: Pillow's numbers exactly (to their 7 printed decimals). JPEG: the same IDCT in
      // libjpeg-turbo gives the same pixels, but leave room for another library version.
      const double tol = im.info.format == "PNG" ? 1e-6 : 2e-4;
      EXPECT_NEAR(mean, it->second.first, tol);
      EXPECT_NEAR(sd, it->second.second, tol);
    }
    ++checked;
  }
  EXPECT_GE(checked, 20);
}

// ---- PNG variants --------------------------------------------------------------------------------------

TEST(Png, SixteenBitGrayAndRgba) {
  TempDir tmp;
  const int W = 5, H = 3;
  auto v = [](int x, int y, int c) { return (x * 13007 + y * 20011 + c * 7919) % 65536; };
  std::vector<std::vector<uint8_t>> gray(H), rgba(H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      gray[y].push_back(uint8_t(v(x, y, 0) >> 8));
      gray[y].push_back(uint8_t(v(x, y, 0) & 0xff));
      for (int c = 0; c < 4; ++c) {
        rgba[y].push_back(uint8_t(v(x, y, c) >> 8));
        rgba[y].push_back(uint8_t(v(x, y, c) & 0xff));
      }
    }
  write_bytes(tmp / "g16.png", make_png(spec(W, H, 16, PNG_COLOR_TYPE_GRAY), gray));
  write_bytes(tmp / "rgba16.png", make_png(spec(W, H, 16, PNG_COLOR_TYPE_RGB_ALPHA), rgba));
  Image g = load_image(tmp / "g16.png");
  EXPECT_EQ(g.info.mode, "I;16");
  EXPECT_EQ(g.info.bit_depth, 16);
  ASSERT_EQ(g.pixels.shape(), (Shape{1, H, W}));
  Image c = load_image(tmp / "rgba16.png");
  EXPECT_EQ(c.info.mode, "RGBA");
  ASSERT_EQ(c.pixels.shape(), (Shape{4, H, W}));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      EXPECT_FLOAT_EQ(sample(g, 0, y, x), float(v(x, y, 0)) / 65535.0f);
      for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(sample(c, k, y, x), float(v(x, y, k)) / 65535.0f);
    }
}

TEST(Png, GrayAlpha) {
  TempDir tmp;
  std::vector<std::vector<uint8_t>> rows = {{10, 255, 20, 0, 30, 128}, {40, 1, 50, 2, 60, 3}};
  write_bytes(tmp / "la.png", make_png(spec(3, 2, 8, PNG_COLOR_TYPE_GRAY_ALPHA), rows));
  Image im = load_image(tmp / "la.png");
  EXPECT_EQ(im.info.mode, "LA");
  ASSERT_EQ(im.pixels.shape(), (Shape{2, 2, 3}));
  EXPECT_FLOAT_EQ(sample(im, 0, 0, 1), 20 / 255.0f);
  EXPECT_FLOAT_EQ(sample(im, 1, 0, 1), 0.0f);
  EXPECT_FLOAT_EQ(sample(im, 1, 0, 2), 128 / 255.0f);
  EXPECT_FLOAT_EQ(sample(im, 0, 1, 2), 60 / 255.0f);
}

TEST(Png, PaletteWithAndWithoutTransparency) {
  TempDir tmp;
  PngSpec s = spec(2, 2, 8, PNG_COLOR_TYPE_PALETTE);
  s.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
  std::vector<std::vector<uint8_t>> rows = {{0, 1}, {2, 3}};
  write_bytes(tmp / "p.png", make_png(s, rows));
  s.trns_alpha = {0, 128};  // entries 2, 3 stay opaque
  write_bytes(tmp / "pt.png", make_png(s, rows));

  Image p = load_image(tmp / "p.png");
  EXPECT_EQ(p.info.mode, "P");
  ASSERT_EQ(p.pixels.shape(), (Shape{3, 2, 2}));
  EXPECT_FLOAT_EQ(sample(p, 0, 0, 0), 1.0f);
  EXPECT_FLOAT_EQ(sample(p, 1, 0, 1), 1.0f);
  EXPECT_FLOAT_EQ(sample(p, 2, 1, 0), 1.0f);
  EXPECT_FLOAT_EQ(sample(p, 2, 1, 1), 30 / 255.0f);

  Image t = load_image(tmp / "pt.png");
  EXPECT_EQ(t.info.mode, "P");
  ASSERT_EQ(t.pixels.shape(), (Shape{4, 2, 2}));
  EXPECT_FLOAT_EQ(sample(t, 3, 0, 0), 0.0f);
  EXPECT_FLOAT_EQ(sample(t, 3, 0, 1), 128 / 255.0f);
  EXPECT_FLOAT_EQ(sample(t, 3, 1, 0), 1.0f);
  EXPECT_FLOAT_EQ(sample(t, 3, 1, 1), 1.0f);
  EXPECT_FLOAT_EQ(sample(t, 1, 0, 1), 1.0f);  // colour still there under the alpha
  EXPECT_EQ(probe_image(tmp / "pt.png").channels, 4);
}

TEST(Png, LowBitDepths) {
  TempDir tmp;
  // 1-bit: 0b10110000 -> pixels 1,0,1,1 (MSB first)
  write_bytes(tmp / "b1.png", make_png(spec(4, 1, 1, PNG_COLOR_TYPE_GRAY), {{0xb0}}));
  Image b1 = load_image(tmp / "b1.png");
  EXPECT_EQ(b1.info.mode, "1");
  EXPECT_EQ(b1.info.bit_depth, 1);
  const float want1[4] = {1, 0, 1, 1};
  for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(sample(b1, 0, 0, x), want1[x]);
  // 2-bit: 0b00011011 -> 0,1,2,3 -> 0, 85, 170, 255 (/255)
  write_bytes(tmp / "b2.png", make_png(spec(4, 1, 2, PNG_COLOR_TYPE_GRAY), {{0x1b}}));
  Image b2 = load_image(tmp / "b2.png");
  EXPECT_EQ(b2.info.mode, "L");
  for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(sample(b2, 0, 0, x), float(x * 85) / 255.0f);
  // 4-bit: 0x0f, 0x7a -> 0, 15, 7, 10 -> x17
  write_bytes(tmp / "b4.png", make_png(spec(4, 1, 4, PNG_COLOR_TYPE_GRAY), {{0x0f, 0x7a}}));
  Image b4 = load_image(tmp / "b4.png");
  const int want4[4] = {0, 15, 7, 10};
  for (int x = 0; x < 4; ++x) EXPECT_FLOAT_EQ(sample(b4, 0, 0, x), float(want4[x] * 17) / 255.0f);
  // 4-bit palette.
  PngSpec p = spec(3, 1, 4, PNG_COLOR_TYPE_PALETTE);
  p.palette = {{0, 0, 0}, {1, 2, 3}, {200, 100, 50}};
  write_bytes(tmp / "p4.png", make_png(p, {{0x21, 0x00}}));
  Image p4 = load_image(tmp / "p4.png");
  EXPECT_EQ(p4.info.bit_depth, 4);
  EXPECT_FLOAT_EQ(sample(p4, 0, 0, 0), 200 / 255.0f);
  EXPECT_FLOAT_EQ(sample(p4, 2, 0, 1), 3 / 255.0f);
  EXPECT_FLOAT_EQ(sample(p4, 1, 0, 2), 0.0f);
}

TEST(Png, GrayWithTransparentColourGetsAlpha) {
  TempDir tmp;
  PngSpec s = spec(3, 1, 8, PNG_COLOR_TYPE_GRAY);
  s.has_trns_color = true;
  s.trns_color.gray = 7;
  write_bytes(tmp / "gt.png", make_png(s, {{7, 8, 7}}));
  Image im = load_image(tmp / "gt.png");
  EXPECT_EQ(im.info.mode, "L");
  ASSERT_EQ(im.pixels.shape(), (Shape{2, 1, 3}));
  EXPECT_FLOAT_EQ(sample(im, 1, 0, 0), 0.0f);
  EXPECT_FLOAT_EQ(sample(im, 1, 0, 1), 1.0f);
  EXPECT_FLOAT_EQ(sample(im, 0, 0, 1), 8 / 255.0f);
}

TEST(Png, InterlacedEqualsProgressiveScanOrder) {
  TempDir tmp;
  const int W = 13, H = 11;
  std::vector<std::vector<uint8_t>> rows(H);
  uint32_t r = 12345;
  for (auto& row : rows)
    for (int i = 0; i < W * 3; ++i) {
      r = r * 1103515245u + 12345u;
      row.push_back(uint8_t(r >> 16));
    }
  PngSpec s = spec(W, H, 8, PNG_COLOR_TYPE_RGB);
  write_bytes(tmp / "flat.png", make_png(s, rows));
  s.interlace = true;
  write_bytes(tmp / "adam7.png", make_png(s, rows));
  Image a = load_image(tmp / "adam7.png");
  EXPECT_TRUE(a.info.interlaced);
  EXPECT_FALSE(load_image(tmp / "flat.png").info.interlaced);
  EXPECT_TRUE(probe_image(tmp / "adam7.png").interlaced);
  ASSERT_EQ(a.pixels.shape(), (Shape{3, H, W}));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_FLOAT_EQ(sample(a, c, y, x), rows[y][x * 3 + c] / 255.0f);
}

// ---- save_png and the atomic writer ------------------------------------------------------------------

TEST(SavePng, ExactRoundTripAllChannelCounts) {
  TempDir tmp;
  for (int C : {1, 2, 3, 4}) {
    Tensor t = Tensor::empty({C, 7, 9});
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = float((i * 37 + C) % 256) / 255.0f;
    const std::string path = tmp / ("rt" + std::to_string(C) + ".png");
    save_png(path, t);
    Image im = load_image(path);
    ASSERT_EQ(im.pixels.shape(), t.shape());
    EXPECT_EQ(im.info.bit_depth, 8);
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(im.pixels[i], t[i]) << C << " " << i;
  }
}

TEST(SavePng, ClampsAndRounds) {
  TempDir tmp;
  Tensor t = Tensor::from({-1.0f, 0.4f / 255, 0.6f / 255, 2.0f, std::nanf(""), 0.5f}, {1, 1, 6});
  save_png(tmp / "c.png", t);
  Image im = load_image(tmp / "c.png");
  const float want[6] = {0, 0, 1 / 255.0f, 1, 0, 128 / 255.0f};  // 127.5 rounds half away from zero
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(im.pixels[i], want[i]) << i;
}

TEST(SavePng, AtomicAndErrors) {
  TempDir tmp;
  const std::string path = tmp / "a.png";
  save_png(path, Tensor::full({1, 2, 2}, 0.0f));
  save_png(path, Tensor::full({3, 4, 5}, 1.0f));  // overwrite in place
  EXPECT_EQ(load_image(path).pixels.shape(), (Shape{3, 4, 5}));
  int files = 0;
  for (auto& e : fs::directory_iterator(tmp.path)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "a.png") << "left behind: " << e.path();
  }
  EXPECT_EQ(files, 1);
  std::string missing_dir = tmp / "no/such/dir/x.png";
  std::string msg = error_of([&] { save_png(missing_dir, Tensor::zeros({1, 2, 2})); });
  EXPECT_EQ(msg.rfind(missing_dir, 0), 0u) << msg;
  EXPECT_NE(error_of([&] { save_png(path, Tensor::zeros({5, 2, 2})); }).find("channels"), std::string::npos);
  EXPECT_NE(error_of([&] { save_png(path, Tensor::zeros({2, 2})); }).find("[C, H, W]"), std::string::npos);
  EXPECT_EQ(load_image(path).pixels.shape(), (Shape{3, 4, 5}));  // failed saves left it alone
}

TEST(AtomicFile, WritesReplacesAndReads) {
  TempDir tmp;
  const std::string path = tmp / "f.bin";
  write_file_atomic(path, std::string("first"));
  EXPECT_EQ(read_file(path), "first");
  std::string big(100000, 'x');
  big[5] = '\0';
  write_file_atomic(path, big.data(), big.size());
  EXPECT_EQ(read_file(path), big);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()), 1);
  std::string msg = error_of([&] { read_file(tmp / "absent"); });
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
  msg = error_of([&] { write_file_atomic(tmp / "absent/f", std::string("x")); });
  EXPECT_EQ(msg.rfind(tmp / "absent/f", 0), 0u) << msg;
}

// ---- JPEG -----------------------------------------------------------------------------------------------

TEST(Jpeg, RgbGrayAndProgressiveRoundTrip) {
  TempDir tmp;
  const int W = 40, H = 32;
  std::vector<uint8_t> rgb = smooth_rgb(W, H), gray(W * H);
  for (int i = 0; i < W * H; ++i) gray[i] = rgb[i * 3 + 1];
  write_bytes(tmp / "rgb.jpg", make_jpeg(W, H, 3, JCS_RGB, rgb));
  write_bytes(tmp / "gray.jpg", make_jpeg(W, H, 1, JCS_GRAYSCALE, gray));
  write_bytes(tmp / "prog.jpg", make_jpeg(W, H, 3, JCS_RGB, rgb, 95, true));
  for (const char* name : {"rgb.jpg", "prog.jpg", "gray.jpg"}) {
    SCOPED_TRACE(name);
    Image im = load_image(tmp / name);
    const bool g = std::string(name) == "gray.jpg";
    EXPECT_EQ(im.info.format, "JPEG");
    EXPECT_EQ(im.info.mode, g ? "L" : "RGB");
    EXPECT_EQ(im.info.progressive, std::string(name) == "prog.jpg");
    EXPECT_EQ(probe_image(tmp / name).progressive, im.info.progressive);
    ASSERT_EQ(im.pixels.shape(), (Shape{g ? 1 : 3, H, W}));
    double sum = 0, worst = 0;
    for (int c = 0; c < im.channels(); ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const float want = (g ? gray[y * W + x] : rgb[(y * W + x) * 3 + c]) / 255.0f;
          const double d = std::fabs(sample(im, c, y, x) - want);
          sum += d;
          worst = std::max(worst, d);
        }
    EXPECT_LT(sum / im.pixels.numel(), 0.01);
    EXPECT_LT(worst, 0.08);
  }
}

TEST(Jpeg, CmykAdobeInvertedAndPlain) {
  TempDir tmp;
  const int W = 16, H = 8;
  // Left half red, right half 50% gray-ish; in ink terms red = C0 M1 Y1 K0, the right half K = 0.5.
  auto cmyk = [&](bool inverted) {
    std::vector<uint8_t> p;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const uint8_t ink[4] = {0, static_cast<uint8_t>(x < 8 ? 255 : 0), static_cast<uint8_t>(x < 8 ? 255 : 0),
                                static_cast<uint8_t>(x < 8 ? 0 : 128)};
        for (uint8_t v : ink) p.push_back(inverted ? 255 - v : v);
      }
    return p;
  };
  write_bytes(tmp / "adobe.jpg", make_jpeg(W, H, 4, JCS_CMYK, cmyk(true), 98, false, "", true));
  write_bytes(tmp / "plain.jpg", make_jpeg(W, H, 4, JCS_CMYK, cmyk(false), 98, false, "", false));
  for (const char* name : {"adobe.jpg", "plain.jpg"}) {
    SCOPED_TRACE(name);
    Image im = load_image(tmp / name);
    EXPECT_EQ(im.info.mode, "CMYK");
    ASSERT_EQ(im.pixels.shape(), (Shape{3, H, W}));
    EXPECT_NEAR(sample(im, 0, 4, 3), 1.0f, 0.03f);
    EXPECT_NEAR(sample(im, 1, 4, 3), 0.0f, 0.03f);
    EXPECT_NEAR(sample(im, 2, 4, 3), 0.0f, 0.03f);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(sample(im, c, 4, 12), 127 / 255.0f, 0.03f);
  }
}

TEST(Exif, ApplyOrientationByHand) {
  // Stored 2 x 3:  a b c / d e f. Expected display images written from the EXIF specification.
  Tensor t = Tensor::from({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  const std::vector<std::vector<float>> display = {
      {1, 2, 3, 4, 5, 6},  // 1
      {3, 2, 1, 6, 5, 4},  // 2 mirror left-right
      {6, 5, 4, 3, 2, 1},  // 3 rotate 180
      {4, 5, 6, 1, 2, 3},  // 4 mirror top-bottom
      {1, 4, 2, 5, 3, 6},  // 5 transpose:         a d / b e / c f
      {4, 1, 5, 2, 6, 3},  // 6 rotate 90 cw:      d a / e b / f c
      {6, 3, 5, 2, 4, 1},  // 7 transverse:        f c / e b / d a
      {3, 6, 2, 5, 1, 4},  // 8 rotate 90 ccw:     c f / b e / a d
  };
  for (int o = 1; o <= 8; ++o) {
    Tensor d = apply_exif_orientation(t, o);
    EXPECT_EQ(d.shape(), o >= 5 ? (Shape{1, 3, 2}) : (Shape{1, 2, 3})) << o;
    for (int i = 0; i < 6; ++i) EXPECT_EQ(d[i], display[o - 1][i]) << "orientation " << o << " index " << i;
  }
}

TEST(Exif, JpegOrientationIsApplied) {
  TempDir tmp;
  // Stored 32 x 16 gray with quadrants TL=20, TR=90, BL=160, BR=230 (each 16 x 8, aligned to JPEG blocks).
  const int W = 32, H = 16;
  std::vector<uint8_t> p(W * H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) p[y * W + x] = y < 8 ? (x < 16 ? 20 : 90) : (x < 16 ? 160 : 230);
  // Where each stored quadrant (TL, TR, BL, BR) is displayed, per orientation, from the EXIF specification's
  // "0th row / 0th column" table. Quadrants: 0 TL, 1 TR, 2 BL, 3 BR.
  const int where[9][4] = {{}, {0, 1, 2, 3}, {1, 0, 3, 2}, {3, 2, 1, 0}, {2, 3, 0, 1},
                           {0, 2, 1, 3}, {1, 3, 0, 2}, {3, 1, 2, 0}, {2, 0, 3, 1}};
  const float value[4] = {20, 90, 160, 230};
  for (bool be : {false, true})
    for (int o = 1; o <= 8; ++o) {
      SCOPED_TRACE(std::string(be ? "MM " : "II ") + std::to_string(o));
      // Built in steps: GCC 12 at -O3 warns a false -Wrestrict on "o" + std::string (GCC bug 105651).
      std::string name = "o";
      name += std::to_string(o);
      name += ".jpg";
      const std::string path = tmp / name;
      write_bytes(path, make_jpeg(W, H, 1, JCS_GRAYSCALE, p, 98, false, exif_app1(o, be)));
      Image im = load_image(path);
      EXPECT_EQ(im.info.exif_orientation, o);
      EXPECT_EQ(probe_image(path).exif_orientation, o);
      EXPECT_EQ(im.info.width, W);  // stored size
      const int dh = o >= 5 ? W : H, dw = o >= 5 ? H : W;
      ASSERT_EQ(im.pixels.shape(), (Shape{1, dh, dw}));
      for (int q = 0; q < 4; ++q) {
        const int d = where[o][q];
        const int cy = (d < 2 ? dh / 4 : 3 * dh / 4), cx = (d % 2 == 0 ? dw / 4 : 3 * dw / 4);
        EXPECT_NEAR(sample(im, 0, cy, cx) * 255.0f, value[q], 3.0f) << "stored quadrant " << q;
      }
    }
}

TEST(Exif, BadOrMissingTagsMeanAsStored) {
  EXPECT_EQ(exif_orientation(reinterpret_cast<const uint8_t*>("Exif\0\0"), 6), 1);
  std::string nine = exif_app1(9, false);
  EXPECT_EQ(exif_orientation(reinterpret_cast<const uint8_t*>(nine.data()), nine.size()), 1);
  std::string six = exif_app1(6, true);
  EXPECT_EQ(exif_orientation(reinterpret_cast<const uint8_t*>(six.data()), six.size()), 6);
  // Cut short anywhere: no crash, 1 or the value.
  for (size_t n = 0; n < six.size(); ++n) {
    int o = exif_orientation(reinterpret_cast<const uint8_t*>(six.data()), n);
    EXPECT_TRUE(o == 1 || o == 6) << n;
  }
  std::string junk = std::string("Exif\0\0", 6) + "MM\0*\xff\xff\xff\xf0garbage";
  EXPECT_EQ(exif_orientation(reinterpret_cast<const uint8_t*>(junk.data()), junk.size()), 1);
}

// ---- format by content, not extension -------------------------------------------------------------------

TEST(Dispatch, MagicBytesNotExtension) {
  TempDir tmp;
  save_png(tmp / "really_png.jpg", Tensor::full({1, 3, 3}, 0.5f));
  EXPECT_EQ(load_image(tmp / "really_png.jpg").info.format, "PNG");
  write_bytes(tmp / "really_jpeg.png", make_jpeg(8, 8, 3, JCS_RGB, smooth_rgb(8, 8)));
  EXPECT_EQ(load_image(tmp / "really_jpeg.png").info.format, "JPEG");
  std::string bytes = read_bytes(tmp / "really_png.jpg");
  Image im = decode_image(std::vector<uint8_t>(bytes.begin(), bytes.end()), "memory");
  EXPECT_EQ(im.pixels.shape(), (Shape{1, 3, 3}));
  EXPECT_EQ(error_of([] { decode_image({'x', 'y'}, "in-memory thing"); }).rfind("in-memory thing", 0), 0u);
}

// ---- broken files ---------------------------------------------------------------------------------------

TEST(Errors, EmptyMissingDirectoryAndWrongMagic) {
  TempDir tmp;
  write_bytes(tmp / "empty.png", "");
  expect_load_error(tmp / "empty.png", "empty file");
  expect_load_error(tmp / "missing.png", "cannot open");
  expect_load_error(tmp.path.string(), "read error");
  write_bytes(tmp / "gif.png", "GIF89a\x01\x00\x01\x00");
  expect_load_error(tmp / "gif.png", "not a PNG or JPEG");
  write_bytes(tmp / "text.jpg", "hello, world\n");
  expect_load_error(tmp / "text.jpg", "not a PNG or JPEG");
  std::string msg = error_of([&] { probe_image(tmp / "text.jpg"); });
  EXPECT_NE(msg.find("not a PNG or JPEG"), std::string::npos) << msg;
}

TEST(Errors, TruncatedPngAtManyOffsets) {
  TempDir tmp;
  Tensor t = Tensor::empty({3, 30, 40});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = float((i * 7919) % 251) / 255.0f;
  save_png(tmp / "full.png", t);
  const std::string full = read_bytes(tmp / "full.png");
  const size_t n = full.size();
  for (size_t cut : {size_t(1), size_t(7), size_t(8), size_t(16), size_t(33), size_t(41), n / 3, n / 2, n - 13,
                     n - 12, n - 1}) {
    SCOPED_TRACE(cut);
    const std::string path = tmp / ("cut" + std::to_string(cut) + ".png");
    write_bytes(path, full.substr(0, cut));
    expect_load_error(path, "truncated PNG");
  }
}

TEST(Errors, TruncatedJpegAtManyOffsets) {
  TempDir tmp;
  const std::string full = make_jpeg(48, 40, 3, JCS_RGB, smooth_rgb(48, 40), 90, true);
  const size_t n = full.size();
  for (size_t cut : {size_t(1), size_t(2), size_t(3), size_t(4), size_t(20), size_t(200), n / 2, n - 2, n - 1}) {
    SCOPED_TRACE(cut);
    const std::string path = tmp / ("cut" + std::to_string(cut) + ".jpg");
    write_bytes(path, full.substr(0, cut));
    expect_load_error(path, "truncated JPEG");
  }
}

TEST(Errors, CorruptPngAndJpeg) {
  TempDir tmp;
  save_png(tmp / "ok.png", Tensor::full({1, 8, 8}, 0.25f));
  std::string png = read_bytes(tmp / "ok.png");
  std::string bad = png;
  bad[18] ^= 0x40;  // inside IHDR's width: CRC no longer matches
  write_bytes(tmp / "crc.png", bad);
  expect_load_error(tmp / "crc.png", "corrupt PNG");
  // Valid CRCs, broken zlib stream.
  std::string ihdr = png.substr(8, 25);
  write_bytes(tmp / "zlib.png", png.substr(0, 8) + ihdr + chunk("IDAT", "this is not deflate data") + chunk("IEND", ""));
  expect_load_error(tmp / "zlib.png", "corrupt PNG");
  // JPEG: a marker with an impossible length.
  write_bytes(tmp / "len.jpg", std::string("\xff\xd8\xff\xc0\x00\x01", 6) + std::string(64, '\x11'));
  expect_load_error(tmp / "len.jpg", "corrupt or unsupported JPEG");
}

TEST(Errors, DamagedBytesNeverCrash) {
  // Flip bytes all over valid files: each load either succeeds or throws cxr::Error (ASan checks the rest).
  TempDir tmp;
  save_png(tmp / "a.png", Tensor::full({3, 16, 16}, 0.3f));
  const std::string files[2] = {read_bytes(tmp / "a.png"), make_jpeg(24, 16, 3, JCS_RGB, smooth_rgb(24, 16), 80, true)};
  uint32_t r = 99;
  int errors = 0, loads = 0;
  for (const std::string& f : files)
    for (int k = 0; k < 60; ++k) {
      std::string b = f;
      for (int j = 0; j < 3; ++j) {
        r = r * 1664525u + 1013904223u;
        b[2 + (r >> 8) % (b.size() - 2)] ^= static_cast<char>(1 + (r & 0x7f));
      }
      try {
        decode_image(std::vector<uint8_t>(b.begin(), b.end()), "fuzzed");
        ++loads;
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("fuzzed", 0), 0u) << e.what();
        ++errors;
      }
    }
  EXPECT_EQ(errors + loads, 120);
  EXPECT_GT(errors, 0);
}

TEST(Errors, ZeroDimensions) {
  TempDir tmp;
  write_bytes(tmp / "w0.png", png_with_header(0, 5));
  expect_load_error(tmp / "w0.png", "zero width or height");
  write_bytes(tmp / "h0.png", png_with_header(5, 0));
  expect_load_error(tmp / "h0.png", "zero width or height");
  std::string jpg = make_jpeg(16, 16, 1, JCS_GRAYSCALE, std::vector<uint8_t>(256, 100));
  const size_t sof = sof_offset(jpg);
  ASSERT_GT(sof, 0u);
  jpg[sof + 1] = jpg[sof + 2] = 0;  // height 0
  write_bytes(tmp / "h0.jpg", jpg);
  expect_load_error(tmp / "h0.jpg", "zero width or height");
}

TEST(Errors, HugeDimensionsRefusedBeforeAllocating) {
  TempDir tmp;
  // 100000 x 100000 RGBA would need 160 GB as floats: it must be refused from the header alone.
  write_bytes(tmp / "huge.png", png_with_header(100000, 100000, 8, 6));
  expect_load_error(tmp / "huge.png", "larger than the limit of 30000 pixels per side");
  expect_load_error(tmp / "huge.png", "100000 x 100000");
  // Within the side limit, above 300 megapixels.
  write_bytes(tmp / "mp.png", png_with_header(20000, 20000));
  expect_load_error(tmp / "mp.png", "more than the limit of 300000000");
  // The probe still reports the size (it allocates nothing).
  EXPECT_EQ(probe_image(tmp / "huge.png").width, 100000);
  // JPEG: patch the frame header to 40000 x 40000.
  std::string jpg = make_jpeg(16, 16, 1, JCS_GRAYSCALE, std::vector<uint8_t>(256, 100));
  const size_t sof = sof_offset(jpg);
  jpg[sof + 1] = jpg[sof + 3] = static_cast<char>(40000 >> 8);
  jpg[sof + 2] = jpg[sof + 4] = static_cast<char>(40000 & 0xff);
  write_bytes(tmp / "huge.jpg", jpg);
  expect_load_error(tmp / "huge.jpg", "larger than the limit");
  // Limits are configurable.
  save_png(tmp / "small.png", Tensor::zeros({1, 48, 64}));
  expect_load_error(tmp / "small.png", "limit of 32 pixels per side", DecodeLimits{32, 1000000});
  expect_load_error(tmp / "small.png", "more than the limit of 1000", DecodeLimits{100, 1000});
  EXPECT_EQ(load_image(tmp / "small.png", DecodeLimits{64, 64 * 48}).width(), 64);
}

// ---- cxr info -------------------------------------------------------------------------------------------

namespace {
struct CliRun {
  int code;
  std::string out, err;
};
CliRun run_cxr(const std::string& args, const TempDir& tmp) {
  const std::string out = tmp / "stdout.txt", err = tmp / "stderr.txt";
  const std::string cmd = std::string("'") + CXR_BINARY + "' " + args + " >'" + out + "' 2>'" + err + "'";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_bytes(out), read_bytes(err)};
}
}  // namespace

TEST(CliInfo, GoodAndBadFiles) {
  TempDir tmp;
  save_png(tmp / "good.png", Tensor::full({3, 12, 34}, 0.5f));
  write_bytes(tmp / "o6.jpg", make_jpeg(16, 8, 1, JCS_GRAYSCALE, std::vector<uint8_t>(128, 9), 90, true,
                                        exif_app1(6, false)));
  write_bytes(tmp / "bad.png", "not an image at all");
  CliRun ok = run_cxr("info '" + (tmp / "good.png") + "' '" + (tmp / "o6.jpg") + "'", tmp);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("good.png: PNG 34 x 12, 3 channels, 8-bit, mode RGB"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("o6.jpg: JPEG 16 x 8"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("progressive"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("EXIF orientation 6"), std::string::npos) << ok.out;

  CliRun bad = run_cxr("info '" + (tmp / "bad.png") + "' '" + (tmp / "good.png") + "'", tmp);
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("good.png: PNG"), std::string::npos) << "the good file is still described: " << bad.out;
  const std::string first_err = bad.err.substr(0, bad.err.find('\n'));
  EXPECT_NE(first_err.find(tmp / "bad.png"), std::string::npos) << bad.err;
  EXPECT_NE(first_err.find("not a PNG or JPEG"), std::string::npos) << bad.err;

  CliRun js = run_cxr("info --json '" + (tmp / "good.png") + "' '" + (tmp / "bad.png") + "'", tmp);
  EXPECT_EQ(js.code, 1);
  nlohmann::json j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["width"], 34);
  EXPECT_EQ(j[0]["height"], 12);
  EXPECT_EQ(j[0]["mode"], "RGB");
  EXPECT_TRUE(j[1].contains("error"));

  EXPECT_EQ(run_cxr("info", tmp).code, 2);  // usage error: no files
}
