// PNG decode/encode with libpng, from and to memory.
//
// Error handling: libpng calls on_error(), which records the message and longjmps back to the setjmp in
// whichever "phase" function is running (read_header, read_pixels, write_png). Those functions hold no C++
// objects with destructors and modify no locals after setjmp, so the jump is safe; the libpng structs are
// freed by a guard in the C++ caller, which libpng never jumps across.
#include "image/png.h"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace cxr::image::detail {
namespace {

// ---- reading -----------------------------------------------------------------------------------------

// Shared with libpng's callbacks: plain data only.
struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  bool truncated;    // a read ran past the end of the data
  char message[256]; // libpng's error message
  char warning[256]; // its last warning, which often says more ("Image width is zero in IHDR")
};

void on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

// Warnings are benign (bad ancillary chunks are skipped) but kept: the one before an error explains it.
void on_warning(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->warning, sizeof src->warning, "%s", msg ? msg : "");
}

void on_write_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) {
    src->truncated = true;
    png_error(png, "unexpected end of data");
  }
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

struct PngHeader {
  png_uint_32 width, height;
  int bit_depth, color_type, interlace;
  bool has_trns;
};

// Phase 1: the chunks before the image data (IHDR, PLTE, tRNS, ...). Allocates nothing image-sized.
bool read_header(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  // libpng's own size limit (1e6 per side) would fire first with a vaguer message; we apply DecodeLimits.
  png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
  png_set_chunk_malloc_max(png, kMaxPngChunkBytes);
  png_read_info(png, info);
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, &h->interlace, nullptr,
               nullptr);
  h->has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  return true;
}

// Phase 2: expand everything to 8 or 16-bit gray/GA/RGB/RGBA (palette -> RGB, tRNS -> alpha, 1/2/4-bit
// gray -> 8-bit), undo Adam7 interlacing, and read all rows into `rows`.
bool read_pixels(png_structp png, png_infop info, const PngHeader* h, png_bytepp rows, size_t rowbytes) {
  if (setjmp(png_jmpbuf(png))) return false;
  if (h->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (h->color_type == PNG_COLOR_TYPE_GRAY && h->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (h->has_trns) png_set_tRNS_to_alpha(png);
  if (h->interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != rowbytes) png_error(png, "unexpected row size after expansion");
  png_read_image(png, rows);
  png_read_end(png, nullptr);  // checks the rest of the file (CRCs, IEND): a cut file is an error
  return true;
}

struct ReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~ReadGuard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

[[noreturn]] void fail(const std::string& name, const PngSource& src) {
  if (src.truncated)
    throw Error(str(name, ": truncated PNG file: data ends after ", src.size, " bytes"));
  if (src.warning[0] && std::strcmp(src.warning, src.message) != 0)
    throw Error(str(name, ": corrupt PNG file: ", src.message, " (", src.warning, ")"));
  throw Error(str(name, ": corrupt PNG file: ", src.message));
}

int decoded_channels(const PngHeader& h) {
  switch (h.color_type) {
    case PNG_COLOR_TYPE_GRAY: return h.has_trns ? 2 : 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return h.has_trns ? 4 : 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    case PNG_COLOR_TYPE_PALETTE: return h.has_trns ? 4 : 3;
    default: return 0;
  }
}

// Pillow's name for the stored pixel format.
std::string pil_mode(const PngHeader& h) {
  switch (h.color_type) {
    case PNG_COLOR_TYPE_GRAY: return h.bit_depth == 1 ? "1" : h.bit_depth == 16 ? "I;16" : "L";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "LA";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_PALETTE: return "P";
    default: return "?";
  }
}

ImageInfo make_info(const PngHeader& h) {
  ImageInfo info;
  info.format = "PNG";
  info.width = static_cast<int>(h.width);
  info.height = static_cast<int>(h.height);
  info.channels = decoded_channels(h);
  info.bit_depth = h.bit_depth;
  info.mode = pil_mode(h);
  info.interlaced = h.interlace != PNG_INTERLACE_NONE;
  return info;
}

// Opens the decoder and reads the header; throws on any failure.
void open(ReadGuard& g, PngSource& src, PngHeader& h, const std::string& name) {
  // IHDR must come first (bytes 8..32); libpng would call a zero size just "Invalid IHDR data".
  if (src.size >= 24 && std::memcmp(src.data + 12, "IHDR", 4) == 0) {
    const uint8_t* d = src.data + 16;
    const uint32_t w = (uint32_t{d[0]} << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
    const uint32_t h4 = (uint32_t{d[4]} << 24) | (d[5] << 16) | (d[6] << 8) | d[7];
    CXR_CHECK(w > 0 && h4 > 0, name, ": PNG has zero width or height (", w, " x ", h4, ")");
  }
  // Every chunk but IDAT is read whole by libpng, which allocates its claimed length first, even past
  // png_set_chunk_malloc_max (a 134-byte file asked for 1.8 GB: found by fuzz_png). The whole file is in
  // memory, so the chunk table is checked here before libpng sees it.
  for (uint64_t pos = 8; pos + 8 <= src.size;) {
    const uint8_t* c = src.data + pos;
    const uint32_t len = (uint32_t{c[0]} << 24) | (c[1] << 16) | (c[2] << 8) | c[3];
    CXR_CHECK(len <= kMaxPngChunkBytes || std::memcmp(c + 4, "IDAT", 4) == 0, name, ": corrupt PNG file: chunk '",
              std::string(reinterpret_cast<const char*>(c + 4), 4), "' at byte ", pos, " claims ", len,
              " bytes, more than the limit of ", kMaxPngChunkBytes);
    pos += uint64_t{12} + len;
  }
  g.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
  CXR_CHECK(g.png != nullptr, name, ": cannot create PNG decoder (out of memory?)");
  g.info = png_create_info_struct(g.png);
  CXR_CHECK(g.info != nullptr, name, ": cannot create PNG decoder (out of memory?)");
  png_set_read_fn(g.png, &src, on_read);
  if (!read_header(g.png, g.info, &h)) fail(name, src);
}

// ---- writing -----------------------------------------------------------------------------------------

struct PngSink {
  uint8_t* data;
  size_t size, cap;
  char message[256];
};

void on_write_error(png_structp png, png_const_charp msg) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

void on_write(png_structp png, png_bytep bytes, size_t n) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (sink->size + n > sink->cap) {
    size_t cap = sink->cap ? sink->cap : 4096;
    while (cap < sink->size + n) cap *= 2;
    auto* grown = static_cast<uint8_t*>(std::realloc(sink->data, cap));
    if (!grown) png_error(png, "out of memory");
    sink->data = grown;
    sink->cap = cap;
  }
  std::memcpy(sink->data + sink->size, bytes, n);
  sink->size += n;
}

void on_flush(png_structp) {}

bool write_png(png_structp png, png_infop info, png_uint_32 w, png_uint_32 h, int color_type,
               png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, w, h, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

struct WriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngSink sink{};
  ~WriteGuard() {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    std::free(sink.data);
  }
};

}  // namespace

bool is_png(const uint8_t* data, size_t n) {
  return n >= 8 && png_sig_cmp(data, 0, 8) == 0;
}

ImageInfo probe_png(const uint8_t* data, size_t n, const std::string& name) {
  PngSource src{data, n, 0, false, {}, {}};
  ReadGuard g;
  PngHeader h{};
  open(g, src, h, name);
  return make_info(h);
}

Image decode_png(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits) {
  PngSource src{data, n, 0, false, {}, {}};
  ReadGuard g;
  PngHeader h{};
  open(g, src, h, name);
  const int64_t W = h.width, H = h.height;
  ImageInfo info = make_info(h);
  const int C = info.channels;
  check_decode_limits(name, W, H, C, limits);  // before allocating anything image-sized
  const int bytes_per_sample = h.bit_depth == 16 ? 2 : 1;
  const size_t rowbytes = static_cast<size_t>(W) * C * bytes_per_sample;
  std::vector<uint8_t> buf(rowbytes * static_cast<size_t>(H));
  std::vector<png_bytep> rows(static_cast<size_t>(H));
  for (int64_t y = 0; y < H; ++y) rows[y] = buf.data() + y * rowbytes;
  if (!read_pixels(g.png, g.info, &h, rows.data(), rowbytes)) fail(name, src);

  // Interleaved samples -> planar floats in [0, 1]. The division (not a multiply by 1/255) gives exactly
  // the values of torchvision's ToTensor (uint8 / 255).
  Tensor t = Tensor::empty({C, H, W});
  float* out = t.data();
  const int64_t plane = H * W;
  if (bytes_per_sample == 1) {
    float lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;
    for (int64_t i = 0; i < plane; ++i)
      for (int c = 0; c < C; ++c) out[c * plane + i] = lut[buf[i * C + c]];
  } else {
    for (int64_t i = 0; i < plane; ++i)
      for (int c = 0; c < C; ++c) {
        const uint8_t* s = &buf[(i * C + c) * 2];  // PNG samples are big-endian
        out[c * plane + i] = static_cast<float>((s[0] << 8) | s[1]) / 65535.0f;
      }
  }
  return Image{t, info};
}

std::string encode_png(const Tensor& chw, const std::string& name) {
  CXR_CHECK(chw.defined() && chw.dim() == 3, name, ": save_png needs a [C, H, W] tensor, got ",
            chw.defined() ? to_string(chw.shape()) : std::string("an undefined tensor"));
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  CXR_CHECK(C >= 1 && C <= 4, name, ": save_png needs 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, got ",
            to_string(chw.shape()));
  CXR_CHECK(H > 0 && W > 0 && H <= 0x7fffffff && W <= 0x7fffffff, name, ": cannot save an image of shape ",
            to_string(chw.shape()));
  static const int kColorType[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                    PNG_COLOR_TYPE_RGB_ALPHA};
  // Planar floats -> interleaved bytes, clamped to [0, 1] and rounded to nearest (NaN -> 0).
  const int64_t plane = H * W;
  std::vector<uint8_t> buf(static_cast<size_t>(plane * C));
  const float* in = chw.data();
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t c = 0; c < C; ++c) {
      float v = in[c * plane + i];
      v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;  // also maps NaN to 0
      buf[i * C + c] = static_cast<uint8_t>(std::lround(v * 255.0f));
    }
  std::vector<png_bytep> rows(static_cast<size_t>(H));
  for (int64_t y = 0; y < H; ++y) rows[y] = buf.data() + y * W * C;

  WriteGuard g;
  g.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &g.sink, on_write_error, on_write_warning);
  CXR_CHECK(g.png != nullptr, name, ": cannot create PNG encoder (out of memory?)");
  g.info = png_create_info_struct(g.png);
  CXR_CHECK(g.info != nullptr, name, ": cannot create PNG encoder (out of memory?)");
  png_set_write_fn(g.png, &g.sink, on_write, on_flush);
  if (!write_png(g.png, g.info, static_cast<png_uint_32>(W), static_cast<png_uint_32>(H), kColorType[C],
                 rows.data()))
    throw Error(str(name, ": PNG encoding failed: ", g.sink.message));
  return std::string(reinterpret_cast<const char*>(g.sink.data), g.sink.size);
}

}  // namespace cxr::image::detail
