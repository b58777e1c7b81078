// EXIF orientation: read the tag with libexif, apply it with an index map.
#include "image/exif.h"

#include <libexif/exif-data.h>

#include <cstring>

#include "image/image.h"

namespace cxr::image {

int exif_orientation(const uint8_t* app1, size_t n) {
  if (n < 6 || std::memcmp(app1, "Exif\0\0", 6) != 0 || n > kMaxExifBytes) return 1;
  ExifData* ed = exif_data_new();
  if (!ed) return 1;
  // Parse only: by default libexif also "fixes" the data to the specification, adding default entries.
  exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_load_data(ed, app1, static_cast<unsigned int>(n));
  int value = 1;
  ExifEntry* e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
  if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2) {
    int v = exif_get_short(e->data, exif_data_get_byte_order(ed));
    if (v >= 1 && v <= 8) value = v;
  }
  exif_data_unref(ed);
  return value;
}

Tensor apply_exif_orientation(const Tensor& chw, int orientation) {
  check_dims(chw, 3, "apply_exif_orientation");
  if (orientation < 2 || orientation > 8) return chw.clone();
  const int64_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  const bool swap = orientation >= 5;  // 5..8 exchange width and height
  const int64_t OH = swap ? W : H, OW = swap ? H : W;
  Tensor out = Tensor::empty({C, OH, OW});
  const float* in = chw.data();
  float* o = out.data();
  for (int64_t c = 0; c < C; ++c) {
    const float* src = in + c * H * W;
    float* dst = o + c * OH * OW;
    for (int64_t y = 0; y < OH; ++y)
      for (int64_t x = 0; x < OW; ++x) {
        int64_t sy = y, sx = x;  // the stored pixel shown at display position (y, x)
        switch (orientation) {
          case 2: sy = y;          sx = W - 1 - x; break;
          case 3: sy = H - 1 - y;  sx = W - 1 - x; break;
          case 4: sy = H - 1 - y;  sx = x;         break;
          case 5: sy = x;          sx = y;         break;
          case 6: sy = H - 1 - x;  sx = y;         break;
          case 7: sy = H - 1 - x;  sx = W - 1 - y; break;
          case 8: sy = x;          sx = W - 1 - y; break;
        }
        dst[y * OW + x] = src[sy * W + sx];
      }
  }
  return out;
}

}  // namespace cxr::image
