// Checkpoints (io/checkpoint.cpp): a safetensors file loaded into a model by name, shape and dtype, with its
// cxr metadata (the "cxr" JSON string: model config, classes, normalisation, provenance) and the header-only
// summary `cxr info` prints. The model is a tiny VGG-11-BN (width 1/32, 32 px, gap head, 1 channel, 3
// classes) so that whole files stay a few tens of kB; the seeds are its own checkpoints.
#include <memory>

#include "fuzz_common.h"
#include "io/checkpoint.h"
#include "models/model.h"

cxr::ModelConfig fuzz_model_config() {
  cxr::ModelConfig c;
  c.arch = "vgg11";
  c.batch_norm = true;
  c.width = 1.0f / 32;
  c.in_channels = 1;
  c.input_size = 32;
  c.head = "gap";
  c.num_classes = 3;
  return c;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::shared_ptr<cxr::Model> model = cxr::make_model(fuzz_model_config());
  const std::string path = cxr::fuzz::write_temp_file(data, size, ".safetensors");
  CXR_FUZZ_REFUSAL_OK(cxr::io::describe_checkpoint(path));
  CXR_FUZZ_REFUSAL_OK(cxr::io::load_checkpoint(path, *model));
  cxr::io::LoadOptions loose;
  loose.strict = false;
  loose.skip_prefixes = {"classifier."};
  CXR_FUZZ_REFUSAL_OK(cxr::io::load_checkpoint(path, *model, loose));
  return 0;
}
