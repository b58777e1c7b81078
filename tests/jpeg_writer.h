// Test images written with libjpeg itself (not by cxr): the unit tests' JPEGs (test_image, test_limits)
// and the fuzzers' seeds (tests/fuzz/make_seeds.cpp).
#pragma once
#include <cstdio>  // jpeglib.h needs FILE
#include <cstdlib>
#include <jpeglib.h>

#include <string>
#include <vector>

namespace cxr_test {

// A JPEG written by libjpeg from interleaved 8-bit samples.
inline std::string make_jpeg(int w, int h, int comps, J_COLOR_SPACE in_space, const std::vector<uint8_t>& pix,
                      int quality = 95, bool progressive = false, const std::string& app1 = "",
                      bool adobe_marker = true) {
  jpeg_compress_struct c{};
  jpeg_error_mgr err{};
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = comps;
  c.in_color_space = in_space;
  jpeg_set_defaults(&c);
  if (in_space == JCS_CMYK) {
    jpeg_set_colorspace(&c, JCS_CMYK);
    c.write_Adobe_marker = adobe_marker;
  }
  jpeg_set_quality(&c, quality, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (!app1.empty())
    jpeg_write_marker(&c, JPEG_APP0 + 1, reinterpret_cast<const JOCTET*>(app1.data()),
                      static_cast<unsigned>(app1.size()));
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&pix[static_cast<size_t>(c.next_scanline) * w * comps]);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), size);
  jpeg_destroy_compress(&c);
  std::free(buf);
  return out;
}

}  // namespace cxr_test
