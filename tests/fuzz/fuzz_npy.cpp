// .npy arrays (explain/npy.cpp): magic, version, the header dict's descr / fortran_order / shape, the data size.
#include <string>

#include "explain/npy.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  CXR_FUZZ_REFUSAL_OK(cxr::decode_npy(bytes, "fuzz.npy"));
  return 0;
}
