// Checkpoint interoperability with torchvision (fixtures: tests/fixtures/make_interop_fixtures.py).
//  - A torchvision VGG-11-BN state_dict exported to safetensors without cxr metadata loads with
//    --arch vgg11_bn and reproduces torchvision's logits.
//  - Saved again by cxr, every tensor comes out with torchvision's name, dtype, shape and bytes, so a cxr
//    checkpoint loads into torchvision (checked from Python with the script's --check mode on the file this
//    test leaves in the build folder).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/safetensors.h"

using namespace cxr;

static const std::string kWeights = std::string(CXR_FIXTURE_DIR) + "/torchvision_vgg11_bn.safetensors";
static const std::string kTest = std::string(CXR_FIXTURE_DIR) + "/torchvision_vgg11_bn.test.safetensors";

TEST(Interop, TorchvisionStateDictLoadsWithIdenticalLogits) {
  io::LoadedModel lm = io::load_model_file(kWeights, "vgg11_bn");
  EXPECT_EQ(lm.meta.model.num_classes, 3);
  EXPECT_FLOAT_EQ(lm.meta.model.width, 1.0f / 16);
  io::SafeTensors test = io::load_safetensors(kTest);
  const Tensor& x = test.find("test.input")->value;
  const Tensor& want = test.find("test.logits")->value;
  NoGradGuard ng;
  Tensor got = (*lm.model)(Variable(x)).data();
  ASSERT_EQ(got.shape(), want.shape());
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - want[i])));
    max_ref = std::max(max_ref, static_cast<double>(std::abs(want[i])));
  }
  EXPECT_GT(max_ref, 1e-2);  // the comparison is meaningful
  EXPECT_LE(max_diff / max_ref, 1e-4) << "relative error of the logits vs torchvision";
}

TEST(Interop, CxrCheckpointHasTorchvisionLayout) {
  io::LoadedModel lm = io::load_model_file(kWeights, "vgg11_bn");
  io::CheckpointMeta meta = lm.meta;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string out = std::string(CXR_SOURCE_DIR) + "/build/interop_cxr_vgg11_bn.safetensors";
  std::string path = out;
  try {
    io::save_checkpoint(path, *lm.model, meta);
  } catch (const Error&) {  // no build/ folder (another build dir): use the temp dir
    path = ::testing::TempDir() + "interop_cxr_vgg11_bn.safetensors";
    io::save_checkpoint(path, *lm.model, meta);
  }
  io::SafeTensors a = io::load_safetensors(kWeights), b = io::load_safetensors(path);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto &ta = a.tensors[i], &tb = b.tensors[i];
    ASSERT_EQ(ta.name, tb.name);
    EXPECT_EQ(io::dtype_name(ta.dtype), io::dtype_name(tb.dtype)) << ta.name;
    ASSERT_EQ(ta.value.shape(), tb.value.shape()) << ta.name;
    for (int64_t j = 0; j < ta.value.numel(); ++j) ASSERT_EQ(ta.value[j], tb.value[j]) << ta.name << "[" << j << "]";
  }
  EXPECT_FALSE(b.metadata.empty());  // plus cxr's metadata, which torch ignores
}

TEST(Interop, NormalisationOfAFileWithoutMetadataIsTheCallers) {
  // Converted ImageNet weights expect ImageNet-normalised input: the file cannot say so, the caller does.
  EXPECT_EQ(io::load_model_file(kWeights, "vgg11_bn").norm.name, "none");
  io::LoadedModel lm = io::load_model_file(kWeights, "vgg11_bn", "imagenet");
  ASSERT_EQ(lm.norm.mean.size(), 3u);
  EXPECT_FLOAT_EQ(lm.norm.mean[0], 0.485f);
  EXPECT_FLOAT_EQ(lm.norm.std[2], 0.225f);
  EXPECT_THROW(io::load_model_file(kWeights, "vgg11_bn", "imagenette"), Error);
  // A cxr checkpoint records its own normalisation: overriding it is refused, naming the file.
  io::CheckpointMeta meta = lm.meta;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string path = ::testing::TempDir() + "interop_norm_vgg11_bn.safetensors";
  io::save_checkpoint(path, *lm.model, meta);
  EXPECT_EQ(io::load_model_file(path).norm.name, "none");
  try {
    io::load_model_file(path, "", "imagenet");
    ADD_FAILURE() << "--normalize accepted for a checkpoint with cxr metadata";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}
