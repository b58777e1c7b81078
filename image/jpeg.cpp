// JPEG decoding with libjpeg-turbo, from memory.
//
// Error handling: libjpeg calls on_error_exit(), which formats the message and longjmps to the setjmp in
// whichever phase function is running (create, read_header, read_pixels). Those hold no C++ objects with
// destructors, so nothing is skipped; jpeg_destroy_decompress() in the caller's guard frees everything.
#include "image/jpeg.h"

// jpeglib.h needs FILE and size_t declared first.
#include <cstdio>
#include <cstddef>
#include <jpeglib.h>
#include <jerror.h>

#include <csetjmp>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "image/exif.h"

namespace cxr::image::detail {
namespace {

// A progressive file may hold any number of scans; a crafted one can make decoding quadratic. Real files
// have about 10. (djpeg offers the same guard as -maxscans.)
constexpr int kMaxScans = 1000;

struct JpegError {
  jpeg_error_mgr pub;  // first, so libjpeg's err pointer is also a JpegError*
  std::jmp_buf jump;
  bool truncated;
  int code;  // libjpeg's message code of the error
  char message[JMSG_LENGTH_MAX + 64];
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  err->code = cinfo->err->msg_code;
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings: a premature end of data is a truncated file, which we refuse (as Pillow does) instead of
// decoding gray filler; other corrupt-data warnings are tolerated like Pillow (libjpeg recovers).
void on_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    err->truncated = true;
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
  }
  cinfo->err->num_warnings++;
}

void on_output_message(j_common_ptr) {}  // never print to stderr

void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) {
    auto* err = reinterpret_cast<JpegError*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "more than %d scans (a malicious file?)", kMaxScans);
    std::longjmp(err->jump, 1);
  }
}

bool create(jpeg_decompress_struct* cinfo, JpegError* err, jpeg_progress_mgr* progress, const uint8_t* data,
            size_t n) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error_exit;
  err->pub.emit_message = on_emit_message;
  err->pub.output_message = on_output_message;
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  progress->progress_monitor = on_progress;
  cinfo->progress = progress;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(n));
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);  // APP1: EXIF
  return true;
}

bool read_header(jpeg_decompress_struct* cinfo, JpegError* err) {
  if (setjmp(err->jump)) return false;
  jpeg_read_header(cinfo, TRUE);
  return true;
}

// Decodes every row into `row` and converts it to planar floats in `out` ([C, H, W], C = 1 or 3).
// `lut` maps a sample to [0, 1]; `adobe` says CMYK samples are stored inverted.
// `W`, `H`, `in_c` are what the caller allocated for; libjpeg must agree.
bool read_pixels(jpeg_decompress_struct* cinfo, JpegError* err, uint8_t* row, float* out, size_t W, size_t H,
                 int in_c, const float* lut, bool adobe) {
  if (setjmp(err->jump)) return false;
  jpeg_start_decompress(cinfo);
  if (cinfo->output_width != W || cinfo->output_height != H || cinfo->output_components != in_c) {
    std::snprintf(err->message, sizeof err->message, "decoder output size differs from the header");
    std::longjmp(err->jump, 1);
  }
  const size_t plane = W * H;
  while (cinfo->output_scanline < H) {
    const size_t y = cinfo->output_scanline;
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(cinfo, rows, 1) != 1) {  // cannot happen with a memory source; never spin
      std::snprintf(err->message, sizeof err->message, "decoder returned no row");
      std::longjmp(err->jump, 1);
    }
    float* o = out + y * W;
    if (in_c == 1) {
      for (size_t x = 0; x < W; ++x) o[x] = lut[row[x]];
    } else if (in_c == 3) {
      for (size_t x = 0; x < W; ++x)
        for (int c = 0; c < 3; ++c) o[c * plane + x] = lut[row[x * 3 + c]];
    } else {  // CMYK: R = (1 - C)(1 - K), ...; Adobe stores 1 - C, 1 - K directly
      for (size_t x = 0; x < W; ++x) {
        const uint8_t* s = row + x * 4;
        float k = adobe ? lut[s[3]] : 1.0f - lut[s[3]];
        for (int c = 0; c < 3; ++c) o[c * plane + x] = (adobe ? lut[s[c]] : 1.0f - lut[s[c]]) * k;
      }
    }
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

struct Decoder {
  jpeg_decompress_struct cinfo{};
  JpegError err{};
  jpeg_progress_mgr progress{};
  ~Decoder() { jpeg_destroy_decompress(&cinfo); }  // safe on a half-made struct (mem == NULL)
};

[[noreturn]] void fail(const std::string& name, const JpegError& err) {
  if (err.truncated) throw Error(str(name, ": truncated JPEG file: ", err.message));
  if (err.code == JERR_EMPTY_IMAGE) throw Error(str(name, ": JPEG has zero width or height (", err.message, ")"));
  throw Error(str(name, ": corrupt or unsupported JPEG file: ", err.message));
}

void open(Decoder& d, const uint8_t* data, size_t n, const std::string& name) {
  if (!create(&d.cinfo, &d.err, &d.progress, data, n)) fail(name, d.err);
  if (!read_header(&d.cinfo, &d.err)) fail(name, d.err);
}

bool is_cmyk(const jpeg_decompress_struct& c) {
  return c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK;
}

ImageInfo make_info(const Decoder& d, const std::string& name) {
  const auto& c = d.cinfo;
  const bool gray = c.jpeg_color_space == JCS_GRAYSCALE;
  const bool rgb = c.jpeg_color_space == JCS_YCbCr || c.jpeg_color_space == JCS_RGB;
  CXR_CHECK(gray || rgb || is_cmyk(c), name, ": unsupported JPEG colour space (", c.num_components,
            " components, libjpeg colour space ", static_cast<int>(c.jpeg_color_space), ")");
  ImageInfo info;
  info.format = "JPEG";
  info.width = static_cast<int>(c.image_width);
  info.height = static_cast<int>(c.image_height);
  info.channels = gray ? 1 : 3;
  info.bit_depth = c.data_precision;
  info.mode = gray ? "L" : rgb ? "RGB" : "CMYK";
  info.progressive = c.progressive_mode != 0;
  for (jpeg_saved_marker_ptr m = c.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      info.exif_orientation = exif_orientation(m->data, m->data_length);
      break;
    }
  return info;
}

}  // namespace

bool is_jpeg(const uint8_t* data, size_t n) {
  return n >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

ImageInfo probe_jpeg(const uint8_t* data, size_t n, const std::string& name) {
  Decoder d;
  open(d, data, n, name);
  return make_info(d, name);
}

Image decode_jpeg(const uint8_t* data, size_t n, const std::string& name, const DecodeLimits& limits) {
  Decoder d;
  open(d, data, n, name);
  ImageInfo info = make_info(d, name);
  const int64_t W = info.width, H = info.height;
  // Refuse before jpeg_start_decompress allocates anything image-sized.
  check_decode_limits(name, W, H, info.channels, limits);
  CXR_CHECK(W > 0 && H > 0, name, ": JPEG has zero width or height");

  // libjpeg converts YCbCr -> RGB itself and leaves CMYK/YCCK as CMYK, which read_pixels converts.
  d.cinfo.out_color_space = info.channels == 1 ? JCS_GRAYSCALE : is_cmyk(d.cinfo) ? JCS_CMYK : JCS_RGB;
  const bool adobe = d.cinfo.saw_Adobe_marker != 0;
  const int in_c = info.channels == 1 ? 1 : is_cmyk(d.cinfo) ? 4 : 3;
  std::vector<uint8_t> row(static_cast<size_t>(W) * in_c);
  Tensor t = Tensor::empty({info.channels, H, W});
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = static_cast<float>(v) / 255.0f;  // = torchvision's uint8 / 255
  if (!read_pixels(&d.cinfo, &d.err, row.data(), t.data(), static_cast<size_t>(W), static_cast<size_t>(H), in_c,
                   lut, adobe))
    fail(name, d.err);
  if (info.exif_orientation != 1) t = apply_exif_orientation(t, info.exif_orientation);
  return Image{t, info};
}

}  // namespace cxr::image::detail
