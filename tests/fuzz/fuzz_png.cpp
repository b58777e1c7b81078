// PNG decoding (image/png.cpp, libpng): header probe and full decode, from memory.
#include "fuzz_common.h"
#include "image/png.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Smaller limits than cxr's (the same code path): a fuzzed 30000 x 10000 image would only be slow.
  const cxr::image::DecodeLimits limits{2048, 1 << 20, int64_t{64} << 20};
  CXR_FUZZ_REFUSAL_OK(cxr::image::detail::probe_png(data, size, "fuzz.png"));
  CXR_FUZZ_REFUSAL_OK(cxr::image::detail::decode_png(data, size, "fuzz.png", limits));
  return 0;
}
