// A model cxr trained, scored in PyTorch (issue 17: "the exported model scored in PyTorch"): the checkpoint
// loads into scripts/train_torch.py's own VGG (torchvision's layout, built in PyTorch, not cxr's code), which
// gives the class probabilities `cxr predict` gives, image by image, and the figures `cxr eval` prints.
// Needs Debian's python3-torch; skips without it, like Interop.CxrCheckpointLoadsIntoTorchvision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "run_cxr.h"

using cxr_test::CliDir;

namespace {

int shell(const std::string& command) {
  const int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// file -> probabilities in class order, from a JSON list of {file, probabilities: {class: p}}.
std::map<std::string, std::vector<double>> by_file(const nlohmann::json& list, const std::vector<std::string>& classes) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& e : list) {
    std::vector<double> p;
    for (const auto& c : classes) p.push_back(e.at("probabilities").at(c).get<double>());
    out[e.at("file").get<std::string>()] = p;
  }
  return out;
}

}  // namespace

TEST(TorchScore, PyTorchScoresACxrCheckpointAsCxrDoes) {
  const std::string python = "/usr/bin/python3";
  CliDir cli("cxr_test_torch_score");
  if (shell(python + " -c 'import torch, torchvision' > " + cli.path("probe.log") + " 2>&1") != 0)
    GTEST_SKIP() << "python3-torch / python3-torchvision are not installed (as root: scripts/install-deps.sh "
                    "fixtures)";
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --size 64 --seed 5 --difficulty 0 --lesion-contrast 3 "
                    "--train 30 --val 10 --test 10"),
            0)
      << cli.log();
  // A few epochs, so that the probabilities are the model's own and not a uniform 1/3; batch-norm layers,
  // so that PyTorch must use cxr's running statistics the way cxr does in eval mode.
  ASSERT_EQ(cli.run("train --data " + cli.path("data") + " --arch vgg11 --bn --width 0.125 --size 64 --epochs 6 "
                    "--lr 1e-3 --seed 1 --out " + cli.path("run")),
            0)
      << cli.log();
  const std::string model = cli.path("run/last.safetensors");
  ASSERT_EQ(cli.run("eval --model " + model + " --data " + cli.path("data") + " --split test --json " +
                    cli.path("eval.json")),
            0)
      << cli.log();
  ASSERT_EQ(shell(std::string(CXR_BINARY) + " --threads 1 predict --model " + model + " " + cli.path("data/manifest.csv") +
                  " --json > " + cli.path("predict.json") + " 2> " + cli.path("predict.log")),
            0)
      << cxr_test::read_text(cli.path("predict.log"));
  const std::string torch_log = cli.path("torch.log");
  ASSERT_EQ(shell(python + " " + CXR_SOURCE_DIR + "/scripts/train_torch.py --threads 1 --data " + cli.path("data") +
                  " --arch vgg11 --bn --width 0.125 --size 64 --split test --score " + model + " --json " +
                  cli.path("torch.json") + " --predictions " + cli.path("torch_pred.json") + " > " + torch_log +
                  " 2>&1"),
            0)
      << cxr_test::read_text(torch_log);

  const std::vector<std::string> classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const auto ours = by_file(cli.json("predict.json"), classes);
  const auto theirs = by_file(cli.json("torch_pred.json"), classes);
  ASSERT_EQ(theirs.size(), 30u);
  double max_diff = 0, spread = 0;
  for (const auto& [file, p] : theirs) {
    ASSERT_TRUE(ours.count(file)) << file << " is not among cxr predict's images";
    const std::vector<double>& q = ours.at(file);
    for (size_t k = 0; k < classes.size(); ++k) {
      max_diff = std::max(max_diff, std::abs(p[k] - q[k]));
      spread = std::max(spread, std::abs(q[k] - 1.0 / 3));
    }
  }
  std::printf("max |p_torch - p_cxr| = %.3g over 30 images; largest |p - 1/3| = %.3f\n", max_diff, spread);
  // Without a spread the comparison would pass for any two near-uniform models.
  ASSERT_GT(spread, 0.03) << "the trained model's probabilities are all near 1/3: train it longer";
  // float32 in both, summed in different orders through 8 conv layers: 6e-8 measured; 1e-4 would still
  // catch a batch-norm in train mode, a missing layer or a transposed weight (each moves them by > 1e-2).
  EXPECT_LT(max_diff, 1e-4);

  const nlohmann::json e = cli.json("eval.json");
  const nlohmann::json t = cli.json("torch.json").at("test");
  EXPECT_NEAR(t.at("accuracy").get<double>(), e.at("accuracy").get<double>(), 1e-12);
  EXPECT_NEAR(t.at("macro_f1").get<double>(), e.at("macro_f1").get<double>(), 1e-9);
  // The AUC ranks 10 NORMAL against 10 PNEUMONIA images: probabilities equal to 1e-4 could swap one close
  // pair at most, 1/100 of AUC.
  EXPECT_NEAR(t.at("source_auc").at("synth").get<double>(),
              e.at("per_source").at("synth").at("normal_vs_pneumonia_auc").get<double>(), 0.0101);
}
