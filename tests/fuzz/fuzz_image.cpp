// The image front door (image/image.cpp): sniffs the magic bytes and routes to the PNG or JPEG decoder.
#include <vector>

#include "fuzz_common.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const cxr::image::DecodeLimits limits{2048, 1 << 20, int64_t{64} << 20};
  CXR_FUZZ_REFUSAL_OK(cxr::image::decode_image(bytes, "fuzz.img", limits));
  return 0;
}
