// JPEG decoding (image/jpeg.cpp, libjpeg-turbo) with its EXIF orientation (image/exif.cpp, libexif): header probe,
// full decode and rotation, and the EXIF parser on its own (an input starting "Exif\0\0" is an APP1 payload).
#include "fuzz_common.h"
#include "image/exif.h"
#include "image/jpeg.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cxr::image::DecodeLimits limits{2048, 1 << 20, int64_t{64} << 20};
  (void)cxr::image::exif_orientation(data, size);  // never throws: 1 for anything it cannot read
  CXR_FUZZ_REFUSAL_OK(cxr::image::detail::probe_jpeg(data, size, "fuzz.jpg"));
  CXR_FUZZ_REFUSAL_OK(cxr::image::detail::decode_jpeg(data, size, "fuzz.jpg", limits));
  return 0;
}
