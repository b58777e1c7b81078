// `cxr bench`: a tiny run prints every section and writes JSON whose figures are there and positive, with
// the first thread count's efficiency 1; bad arguments are usage errors (exit 2). Nothing here asserts a
// speed: the test machine is shared. Also the pieces it is made of: the model's conv GEMM shapes (against
// the hand-written VGG-16 table the Google benchmarks use) and the median / spread of core/timing.h.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "bench/vgg16_convs.h"
#include "core/timing.h"
#include "models/model.h"
#include "run_cxr.h"
#include "train/throughput.h"

using cxr_test::CliDir;

namespace {

// A run of seconds: VGG-11 (8 convs) at width 0.125 and 32 px, 2 images, one timed repetition.
const std::string kTiny = "bench --model vgg11 --width 0.125 --size 32 --batch 2 --steps 1";

}  // namespace

TEST(BenchCli, TinyRunPrintsEverySectionAndWritesJson) {
  CliDir cli("cxr_test_bench");
  ASSERT_EQ(cli.run(kTiny + " --threads 1,2 --json " + cli.path("b.json")), 0) << cli.log();
  const std::string log = cli.log();
  for (const char* section : {"Machine\n", "  CPU ", "  ISA ", "  OpenBLAS ", "  OpenMP ", "  MPI ", "Model\n",
                              "SGEMM at the model's conv shapes", "Per thread count", "Grad-CAM ms", "peak RSS",
                              "bench, 2 threads"})
    EXPECT_NE(log.find(section), std::string::npos) << "no '" << section << "' in:\n" << log;
  // --steps 1 leaves no spread to see, and the run says so.
  EXPECT_NE(log.find("--steps 1"), std::string::npos) << log;

  const nlohmann::json j = cli.json("b.json");
  EXPECT_GT(j["machine"]["logical_cores"].get<int>(), 0);
  EXPECT_FALSE(j["machine"]["openblas"]["core"].get<std::string>().empty());
  EXPECT_TRUE(j["machine"]["isa"].contains("avx2"));
  EXPECT_GT(j["model"]["forward_flops_per_image"].get<double>(), 0);
  EXPECT_EQ(j["settings"]["threads"], nlohmann::json::array({1, 2}));
  ASSERT_EQ(j["results"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const nlohmann::json& r = j["results"][i];
    SCOPED_TRACE("threads " + std::to_string(r["threads"].get<int>()));
    EXPECT_EQ(r["threads"].get<int>(), static_cast<int>(i + 1));
    int convs = 0;
    for (const auto& s : r["sgemm"]["shapes"]) {
      EXPECT_GT(s["gflops"].get<double>(), 0);
      convs += s["convs"].get<int>();
    }
    EXPECT_EQ(convs, 8) << "VGG-11 has 8 convolutions";
    for (const char* key : {"training", "inference"}) {
      EXPECT_GT(r[key]["images_per_s"].get<double>(), 0) << key;
      EXPECT_GT(r[key]["gflops"].get<double>(), 0) << key;
      EXPECT_GT(r[key]["share_of_sgemm"].get<double>(), 0) << key;
      EXPECT_EQ(r[key]["seconds"].size(), 1u) << key;
    }
    EXPECT_GT(r["sgemm"]["gflops"].get<double>(), 0);
    EXPECT_GT(r["gradcam"]["ms_per_image"].get<double>(), 0);
    EXPECT_GT(r["memory"]["peak_rss_bytes"].get<int64_t>(), 0);
    EXPECT_GT(r["memory"]["peak_tensor_bytes"].get<int64_t>(), 0);
    for (const char* key : {"training", "inference", "gradcam"}) {
      const double eff = r[key]["efficiency"].get<double>();
      if (i == 0)
        EXPECT_DOUBLE_EQ(eff, 1.0) << key;
      else
        EXPECT_GT(eff, 0.0) << key;
    }
  }
  EXPECT_TRUE(j["warnings"].is_array());
}

// Without its own --threads the command runs at the count `cxr --threads N` set (CliDir passes 1).
TEST(BenchCli, DefaultThreadListEndsAtTheThreadCount) {
  CliDir cli("cxr_test_bench_default");
  ASSERT_EQ(cli.run(kTiny + " --json " + cli.path("b.json")), 0) << cli.log();
  EXPECT_EQ(cli.json("b.json")["settings"]["threads"], nlohmann::json::array({1}));
}

TEST(BenchCli, BadArgumentsAreUsageErrors) {
  CliDir cli("cxr_test_bench_bad");
  struct Case {
    std::string args, names;
  };
  for (const Case& c : {Case{"--threads 0", "--threads"}, Case{"--threads 1,0", "--threads"},
                        Case{"--threads 1,two", "--threads"}, Case{"--threads 1.5", "--threads"},
                        Case{"--threads -2", "--threads"}, Case{"--model vgg12", "--model"},
                        Case{"--size 100", "--size"}, Case{"--steps 0", "--steps"}, Case{"--batch 0", "--batch"},
                        Case{"--width 0", "--width"}, Case{"--no-such-option", "--no-such-option"}}) {
    EXPECT_EQ(cli.run("bench " + c.args + " --json " + cli.path("b.json")), 2) << c.args << "\n" << cli.log();
    EXPECT_EQ(cli.log().rfind("cxr bench: ", 0), 0u) << c.args << "\n" << cli.log();
    EXPECT_NE(cli.log().find(c.names), std::string::npos) << c.args << "\n" << cli.log();
    EXPECT_FALSE(std::filesystem::exists(cli.path("b.json"))) << c.args;
  }
}

// The distinct conv products of VGG-16 at 224 are the Google benchmarks' table (bench/vgg16_convs.h), with
// the repeated shapes counted once and their layers counted.
TEST(BenchPieces, ConvGemmsOfVgg16) {
  cxr::ModelConfig c;  // vgg16, width 1, 3 channels, 224
  c.head = "gap";       // one Linear(512, 3): the 120 M weights of torchvision's head would take seconds to draw
  auto model = cxr::make_model(c);
  const std::vector<cxr::ConvGemm> g = cxr::conv_gemms(*model, 224);
  int total = 0;
  for (const cxr::ConvGemm& s : g) total += s.layers;
  EXPECT_EQ(total, 13);
  size_t at = 0;
  for (const cxr::bench::VggConv& v : cxr::bench::kVgg16Convs) {
    if (at > 0 && g[at - 1].M == v.M() && g[at - 1].N == v.N() && g[at - 1].K == v.K()) continue;  // a repeat
    ASSERT_LT(at, g.size()) << v.name;
    EXPECT_EQ(g[at].M, v.M()) << v.name;
    EXPECT_EQ(g[at].N, v.N()) << v.name;
    EXPECT_EQ(g[at].K, v.K()) << v.name;
    ++at;
  }
  EXPECT_EQ(at, g.size());
  EXPECT_EQ(g[0].layer, "features.0");
  // Every conv's product (30.7 GFLOP, VGG-16's 15.4 G multiply-adds) and the head's 512 x 3.
  double flops = 2.0 * 512 * 3;
  for (const cxr::bench::VggConv& v : cxr::bench::kVgg16Convs) flops += v.flops_per_image();
  EXPECT_DOUBLE_EQ(cxr::forward_flops_per_image(*model, 224), flops);
}

TEST(BenchPieces, MedianAndSpread) {
  cxr::Timing t;
  EXPECT_EQ(t.median(), 0.0);
  t.seconds = {3, 1, 2};
  EXPECT_DOUBLE_EQ(t.median(), 2.0);
  t.seconds = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(t.median(), 2.5);
  t.seconds = {1, 3};  // mean 2, sample standard deviation sqrt(2)
  EXPECT_NEAR(t.cv(), std::sqrt(2.0) / 2, 1e-12);
  t.seconds = {5};
  EXPECT_EQ(t.cv(), 0.0);
  int runs = 0;
  const cxr::Timing r = cxr::time_repeated(2, 3, [&] { ++runs; });
  EXPECT_EQ(runs, 5);
  EXPECT_EQ(r.seconds.size(), 3u);
}
