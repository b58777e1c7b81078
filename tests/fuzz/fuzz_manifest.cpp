// CSV manifests (data/dataset.cpp): the RFC 4180 reader and the manifest's columns, rows, labels and paths.
#include <string>

#include "data/dataset.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  CXR_FUZZ_REFUSAL_OK(cxr::data::parse_manifest(text, "/fuzz/data/manifest.csv"));
  return 0;
}
