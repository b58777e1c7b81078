// The tiny model that the report and serve tests train or explain: VGG-11 with batch norm at width 1/16,
// 64 px grey input, the global-average-pooled head, the three classes. Seconds to build and to run.
#pragma once
#include <cstdint>

#include "models/model.h"

namespace cxr::test {

inline ModelConfig tiny_vgg11_config(uint64_t seed) {
  ModelConfig mc;
  mc.arch = "vgg11";
  mc.batch_norm = true;
  mc.width = 0.0625f;
  mc.in_channels = 1;
  mc.input_size = 64;
  mc.head = "gap";
  mc.num_classes = 3;
  mc.seed = seed;
  return mc;
}

}  // namespace cxr::test
