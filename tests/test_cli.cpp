// The `cxr` command line itself, whatever the command: where --threads may be written.
#include <gtest/gtest.h>

#include <string>

#include "run_cxr.h"

using cxr_test::CliDir;
using cxr_test::run_cxr;

// `--threads N` before the command name, after it, or both (the command's wins): `cxr train` prints the
// thread count it computes with. Counts other than the core count, so that the default cannot pass.
TEST(Cli, ThreadsBeforeOrAfterTheCommandName) {
  CliDir cli("cxr_test_cli_threads");
  ASSERT_EQ(run_cxr("synth --out " + cli.path("data") + " --count 4 --size 64", cli.path("log.txt")), 0)
      << cli.log();
  const std::string train = " train --data " + cli.path("data") +
                            " --arch seedcnn --size 64 --head gap --epochs 1 --max-steps 1 --batch 4 --out ";
  struct Case {
    std::string before, after;
    int expected;
  };
  for (const Case& c : {Case{"--threads 3", "", 3}, Case{"--threads=5", "", 5}, Case{"", "--threads 3", 3},
                        Case{"--threads 5", "--threads 3", 3}}) {
    const std::string out = cli.path("run" + std::to_string(c.expected) + (c.before.empty() ? "a" : "b") +
                                     (c.after.empty() ? "" : "c"));
    ASSERT_EQ(run_cxr(c.before + train + out + " " + c.after, cli.path("log.txt")), 0) << cli.log();
    EXPECT_NE(cli.log().find("compute: " + std::to_string(c.expected) + " thread(s)"), std::string::npos)
        << "cxr " << c.before << " train ... " << c.after << "\n" << cli.log();
  }
}
