// safetensors (io/safetensors.cpp): the 8-byte length, the JSON header (names, dtypes, shapes, offsets,
// __metadata__), the tensor table's layout rules and the dtype conversions, from memory.
#include <vector>

#include "fuzz_common.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  CXR_FUZZ_REFUSAL_OK(cxr::io::decode_safetensors(bytes, "fuzz.safetensors"));
  return 0;
}
