// The `cxr` command line itself, whatever the command: where --threads may be written.
#include <gtest/gtest.h>

#include <string>

#include "core/threading.h"
#include "run_cxr.h"

using cxr_test::CliDir;
using cxr_test::run_cxr;

// `--threads N` before the command name, after it, or both (the command's wins): `cxr train` prints the
// thread count it computes with. The counts differ from the default (CXR_THREADS, else the core count,
// which the child process sees as this one does), so that ignoring the option cannot pass.
TEST(Cli, ThreadsBeforeOrAfterTheCommandName) {
  CliDir cli("cxr_test_cli_threads");
  ASSERT_EQ(run_cxr("synth --out " + cli.path("data") + " --count 4 --size 64", cli.path("log.txt")), 0)
      << cli.log();
  const std::string train = " train --data " + cli.path("data") +
                            " --arch seedcnn --size 64 --head gap --epochs 1 --max-steps 1 --batch 4 --out ";
  const int d = cxr::default_num_threads();
  const std::string a = std::to_string(d + 1), b = std::to_string(d + 2);
  struct Case {
    std::string before, after, expected;
  };
  int run = 0;
  for (const Case& c : {Case{"--threads " + a, "", a}, Case{"--threads=" + b, "", b}, Case{"", "--threads " + a, a},
                        Case{"--threads " + b, "--threads " + a, a}}) {
    const std::string out = cli.path("run" + std::to_string(++run));
    ASSERT_EQ(run_cxr(c.before + train + out + " " + c.after, cli.path("log.txt")), 0) << cli.log();
    EXPECT_NE(cli.log().find("compute: " + c.expected + " thread(s)"), std::string::npos)
        << "cxr " << c.before << " train ... " << c.after << "\n" << cli.log();
  }
  // A bad value is a usage error of whichever it was given to.
  EXPECT_EQ(run_cxr("--threads abc summary --arch vgg11", cli.path("log.txt")), 2);
  EXPECT_EQ(cli.log().rfind("cxr: --threads", 0), 0u) << cli.log();
  EXPECT_EQ(run_cxr("summary --arch vgg11 --threads -1", cli.path("log.txt")), 2);
  EXPECT_EQ(cli.log().rfind("cxr summary: --threads", 0), 0u) << cli.log();
}

// Options the model cannot be built with, and the trainer's own checks of its options, are usage errors
// (exit 2) that name the option, found before the data is read (here there is none) and before the run
// folder is made; <arch>_bn means --bn, as elsewhere.
TEST(Cli, TrainRefusesBadModelOptionsFirst) {
  CliDir cli("cxr_test_cli_train_options");
  const std::string out = cli.path("run");
  const std::string train = "train --data " + cli.path("no-such-data") + " --out " + out + " ";
  struct Case {
    std::string args, says;
  };
  for (const Case& c : {Case{"--size 70", "cxr train: --size: 70 is not a multiple of 32"},
                        Case{"--arch vgg17", "unknown model 'vgg17'"}, Case{"--head gap512", "--head: gap512"},
                        Case{"--width 0", "--width: Value 0 not in range"},
                        Case{"--epochs 0", "--epochs: 0 is below 1"},
                        Case{"--lr -1", "cxr train: --lr must be positive"}}) {
    EXPECT_EQ(cxr_test::run_cxr(train + c.args, cli.path("log.txt")), 2) << c.args << "\n" << cli.log();
    EXPECT_NE(cli.log().find(c.says), std::string::npos) << c.args << "\n" << cli.log();
    EXPECT_EQ(cli.log().find("no-such-data"), std::string::npos) << c.args << ": read the data first\n" << cli.log();
    EXPECT_FALSE(std::filesystem::exists(out)) << c.args;
  }
  // A run that fails on its data (none there) leaves no empty run folder either.
  EXPECT_EQ(cxr_test::run_cxr(train, cli.path("log.txt")), 1) << cli.log();
  EXPECT_NE(cli.log().find("no-such-data"), std::string::npos) << cli.log();
  EXPECT_FALSE(std::filesystem::exists(out));
  // vgg11_bn is vgg11 with batch-norm.
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --count 4 --size 64"), 0) << cli.log();
  ASSERT_EQ(cli.run("train --data " + cli.path("data") + " --arch vgg11_bn --width 0.125 --size 64 --head gap "
                    "--epochs 1 --max-steps 1 --batch 4 --out " + out),
            0)
      << cli.log();
  EXPECT_NE(cli.log().find("model: vgg11_bn, width 0.125"), std::string::npos) << cli.log();
}

// An epoch without batch-norm trains every image (60 at batch 16: 4 steps, the last of 12); with it the
// last partial batch is left out (3 steps).
TEST(Cli, TrainDropsTheLastPartialBatchOnlyWithBatchNorm) {
  CliDir cli("cxr_test_cli_last_batch");
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --count 20 --size 64 --val 4 --test 0"), 0) << cli.log();
  const std::string train = "train --data " + cli.path("data") + " --size 64 --head gap --epochs 1 --batch 16 ";
  ASSERT_EQ(cli.run(train + "--arch seedcnn --out " + cli.path("plain")), 0) << cli.log();
  EXPECT_NE(cli.log().find("] 4/4 "), std::string::npos) << cli.log();
  ASSERT_EQ(cli.run(train + "--arch vgg11 --bn --width 0.125 --out " + cli.path("bn")), 0) << cli.log();
  EXPECT_NE(cli.log().find("] 3/3 "), std::string::npos) << cli.log();
}

// A split name that is none is a usage error of every command that takes --split, before anything is read.
TEST(Cli, UnknownSplitIsAUsageError) {
  CliDir cli("cxr_test_cli_split");
  for (const std::string cmd : {"eval --model m.safetensors --data d", "xai-eval --model m.safetensors --data d",
                                "report --run r"}) {
    EXPECT_EQ(cli.run(cmd + " --split vall"), 2) << cmd << "\n" << cli.log();
    EXPECT_NE(cli.log().find("--split: 'vall' is not a split: use test, val, train, all or auto"), std::string::npos)
        << cmd << "\n" << cli.log();
  }
  // Any case, and the long names of val, are splits: this one goes on to fail on the missing model (exit 1).
  for (const std::string split : {"VAL", "Validation", "Test", "ALL", "Auto"}) {
    EXPECT_EQ(cli.run("eval --model " + cli.path("none.safetensors") + " --data d --split " + split), 1)
        << split << "\n" << cli.log();
    EXPECT_NE(cli.log().find("none.safetensors"), std::string::npos) << split << "\n" << cli.log();
  }
}
