// Checkpoint interoperability with torchvision (fixtures: tests/fixtures/make_interop_fixtures.py).
//  - A torchvision VGG-11-BN state_dict exported to safetensors without cxr metadata loads with
//    --arch vgg11_bn and reproduces torchvision's logits.
//  - Saved again by cxr, every tensor comes out with torchvision's name, dtype, shape and bytes.
//  - A checkpoint cxr trained (a step from those weights) loads into torchvision with strict names and
//    gives cxr's logits there: the script's --check mode, run here when python3-torch is installed (else
//    the test skips, saying so).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/safetensors.h"
#include "layers/loss.h"
#include "layers/optim.h"

using namespace cxr;
namespace fs = std::filesystem;

static const std::string kWeights = std::string(CXR_FIXTURE_DIR) + "/torchvision_vgg11_bn.safetensors";
static const std::string kTest = std::string(CXR_FIXTURE_DIR) + "/torchvision_vgg11_bn.test.safetensors";

namespace {

// A temporary folder for one test, removed afterwards.
struct TempFolder {
  fs::path dir;
  explicit TempFolder(const std::string& tag)
      : dir(fs::temp_directory_path() / (tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempFolder() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
};

// The exit status of a shell command, its output in `log` (-1: it did not exit).
int run_shell(const std::string& command, const std::string& log) {
  const int rc = std::system((command + " > " + log + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

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
  TempFolder tmp("cxr_test_interop_layout");
  const std::string path = tmp.path("cxr_vgg11_bn.safetensors");
  io::save_checkpoint(path, *lm.model, meta);
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

// The cxr -> torchvision direction, end to end: torchvision loads what cxr trained and computes cxr's
// logits from it.
TEST(Interop, CxrCheckpointLoadsIntoTorchvision) {
  const std::string python = "/usr/bin/python3";
  TempFolder tmp("cxr_test_interop_torch");
  if (run_shell(python + " -c 'import torch, torchvision'", tmp.path("probe.log")) != 0)
    GTEST_SKIP() << "python3-torch / python3-torchvision are not installed (as root: scripts/install-deps.sh "
                    "fixtures, or apt-get install -y python3-torch python3-torchvision)";
  // One SGD step in train mode (batch-norm's running statistics move too), so that the weights are cxr's
  // own and not the file it read.
  io::LoadedModel lm = io::load_model_file(kWeights, "vgg11_bn");
  io::SafeTensors test = io::load_safetensors(kTest);
  const Tensor& x = test.find("test.input")->value;
  lm.model->train();
  SGD opt(lm.model->named_parameters(), 0.1f);
  cross_entropy((*lm.model)(Variable(x)), {0, 2}).backward();
  opt.step();
  lm.model->eval();
  Tensor logits;
  {
    NoGradGuard ng;
    logits = (*lm.model)(Variable(x)).data();
  }
  const Tensor& before = test.find("test.logits")->value;
  double moved = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) moved = std::max(moved, double(std::abs(logits[i] - before[i])));
  ASSERT_GT(moved, 1e-3) << "the step did not change the logits: the check would compare torchvision's own";
  io::CheckpointMeta meta = lm.meta;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string ckpt = tmp.path("cxr_vgg11_bn.safetensors"), expected = tmp.path("cxr_logits.safetensors");
  io::save_checkpoint(ckpt, *lm.model, meta);
  io::NamedTensor expected_logits;
  expected_logits.name = "test.logits";
  expected_logits.value = logits;
  io::save_safetensors(expected, {expected_logits});
  const std::string log = tmp.path("check.log");
  const int rc = run_shell(python + " " + CXR_FIXTURE_DIR + "/make_interop_fixtures.py --check " + ckpt +
                               " --logits " + expected, log);
  EXPECT_EQ(rc, 0) << read_text(log);
  EXPECT_NE(read_text(log).find("<All keys matched successfully>"), std::string::npos) << read_text(log);
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
