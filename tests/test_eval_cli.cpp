// `cxr eval` on the command line: the per-image predictions file, and an ensemble of two models (each at
// its own input size) scored as the mean of their probabilities. The models are barely trained (24 steps):
// what is checked is the arithmetic that joins them, against the single-model files, and that --tta is
// recorded and checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "io/checkpoint.h"
#include "run_cxr.h"

namespace {

// The predictions CSV as rows of fields, header first.
std::vector<std::vector<std::string>> read_csv(const cxr_test::CliDir& cli, const std::string& name) {
  return cxr::data::parse_csv(cxr_test::read_text(cli.path(name)), cli.path(name));
}

std::string train_args(const cxr_test::CliDir& cli, const std::string& data, int size, int seed,
                       const std::string& out) {
  return "train --data " + cli.path(data) + " --arch vgg11 --bn --width 0.125 --size " + std::to_string(size) +
         " --head gap --epochs 4 --lr 3e-3 --batch 8 --patience 0 --augment none --seed " +
         std::to_string(seed) + " --out " + cli.path(out);
}

}  // namespace

TEST(EvalCli, PredictionsFileAndEnsembleOfTwoModels) {
  cxr_test::CliDir cli("cxr_test_eval_cli");
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --size 64 --train 16 --val 4 --test 10 --seed 3 "
                    "--difficulty 0 --lesion-contrast 3"), 0)
      << cli.log();
  ASSERT_EQ(cli.run(train_args(cli, "data", 64, 1, "a")), 0) << cli.log();
  ASSERT_EQ(cli.run(train_args(cli, "data", 32, 2, "b")), 0) << cli.log();
  const std::string data = " --data " + cli.path("data") + " --split test";
  ASSERT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + data + " --predictions " +
                    cli.path("a.csv") + " --json " + cli.path("a.json")),
            0)
      << cli.log();
  ASSERT_EQ(cli.run("eval --model " + cli.path("b/best.safetensors") + data + " --predictions " + cli.path("b.csv")),
            0)
      << cli.log();
  ASSERT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + " --model " + cli.path("b/best.safetensors") +
                    data + " --predictions " + cli.path("e.csv") + " --json " + cli.path("e.json")),
            0)
      << cli.log();
  EXPECT_NE(cli.log().find("Ensemble of 2 models"), std::string::npos) << cli.log();

  const auto a = read_csv(cli, "a.csv"), b = read_csv(cli, "b.csv"), e = read_csv(cli, "e.csv");
  const std::vector<std::string> header = {"file",      "label",    "source",    "predicted",
                                           "correct",   "p_COVID19", "p_NORMAL", "p_PNEUMONIA"};
  ASSERT_EQ(a.at(0), header);
  ASSERT_EQ(e.at(0), header);
  ASSERT_EQ(a.size(), 31u);  // header + 3 classes x 10 test images
  ASSERT_EQ(b.size(), a.size());
  ASSERT_EQ(e.size(), a.size());
  int a_correct = 0, e_correct = 0;
  double most_apart = 0;  // the two models must disagree, or the mean would not be tested
  for (size_t r = 1; r < a.size(); ++r) {
    ASSERT_EQ(a[r][0], e[r][0]);
    ASSERT_EQ(b[r][0], e[r][0]);
    double sum = 0, best = -1;
    std::string argmax;
    for (int k = 0; k < 3; ++k) {
      const double pa = std::stod(a[r][5 + k]), pb = std::stod(b[r][5 + k]), pe = std::stod(e[r][5 + k]);
      EXPECT_NEAR(pe, (pa + pb) / 2, 1e-6) << "row " << r << " class " << k;
      sum += pa;
      most_apart = std::max(most_apart, std::abs(pa - pb));
      if (pe > best) best = pe, argmax = header[5 + k].substr(2);
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
    EXPECT_EQ(e[r][3], argmax) << "row " << r;
    EXPECT_EQ(e[r][4], e[r][3] == e[r][1] ? "1" : "0") << "row " << r;
    a_correct += a[r][4] == "1";
    e_correct += e[r][4] == "1";
  }
  EXPECT_GT(most_apart, 0.01);
  // The JSON's accuracy is the CSV's, and the ensemble's JSON names both models.
  EXPECT_NEAR(cli.json("a.json")["accuracy"].get<double>(), a_correct / 30.0, 1e-9);
  const nlohmann::json ej = cli.json("e.json");
  EXPECT_NEAR(ej["accuracy"].get<double>(), e_correct / 30.0, 1e-9);
  ASSERT_TRUE(ej["models"].is_array());
  EXPECT_EQ(ej["models"].size(), 2u);
  EXPECT_EQ(ej["model"], cli.path("a/best.safetensors") + " + " + cli.path("b/best.safetensors"));
  EXPECT_EQ(cli.json("a.json")["model"], cli.path("a/best.safetensors"));
  EXPECT_EQ(cli.json("a.json")["tta"], 1);

  // Test-time augmentation: the JSON records the views, the console says so, and 0 views is refused.
  ASSERT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + data + " --tta 3 --json " + cli.path("t.json")),
            0)
      << cli.log();
  EXPECT_NE(cli.log().find("test-time augmentation: 3 views"), std::string::npos) << cli.log();
  EXPECT_EQ(cli.json("t.json")["tta"], 3);
  EXPECT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + data + " --tta 0"), 2);  // usage

  // A model with other classes cannot join the ensemble: the error names it.
  ASSERT_EQ(cli.run("synth --out " + cli.path("two") + " --size 32 --train 8 --val 4 --test 4 --seed 3 "
                    "--classes COVID19,NORMAL"),
            0)
      << cli.log();
  ASSERT_EQ(cli.run(train_args(cli, "two", 32, 1, "c")), 0) << cli.log();
  EXPECT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + " --model " + cli.path("c/best.safetensors") +
                    data),
            1);  // a runtime error (the files disagree), not a crash
  EXPECT_NE(cli.log().find(cli.path("c/best.safetensors") + ": classes"), std::string::npos) << cli.log();
  EXPECT_EQ(cli.log().find("Model 1/2"), std::string::npos) << "scored model 1 before refusing\n" << cli.log();

  // --skip-bad: the unreadable files are counted on the console and in the JSON, and left out of the figures.
  { std::ofstream(a.at(1).at(0)) << "plain text, not a PNG"; }  // a test image of the manifest, now unreadable
  ASSERT_EQ(cli.run("eval --model " + cli.path("a/best.safetensors") + data + " --skip-bad --json " +
                    cli.path("s.json")),
            0)
      << cli.log();
  EXPECT_NE(cli.log().find("skipped 1 unreadable image(s) of 30"), std::string::npos) << cli.log();
  EXPECT_EQ(cli.json("s.json")["skipped"], 1);
  EXPECT_EQ(cli.json("s.json")["count"], 29);
  EXPECT_EQ(cli.json("a.json")["skipped"], 0);
}

// `cxr predict` on files, a folder and as JSON: the same probabilities as `cxr eval --predictions` gives
// for those images (one preprocessing for both), a table whose columns line up, and unreadable files named.
TEST(PredictCli, FilesFoldersAndJsonAgreeWithEval) {
  cxr_test::CliDir cli("cxr_test_predict_cli");
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --size 64 --train 16 --val 4 --test 3 --seed 3 "
                    "--difficulty 0 --lesion-contrast 3"),
            0)
      << cli.log();
  ASSERT_EQ(cli.run(train_args(cli, "data", 64, 1, "m")), 0) << cli.log();
  const std::string model = " --model " + cli.path("m/best.safetensors");
  ASSERT_EQ(cli.run("eval" + model + " --data " + cli.path("data") + " --split test --predictions " +
                    cli.path("eval.csv")),
            0)
      << cli.log();
  const auto rows = read_csv(cli, "eval.csv");
  ASSERT_EQ(rows.size(), 10u);  // header + 3 classes x 3

  // A folder of class folders: every test image, in the dataset's order, as JSON.
  ASSERT_EQ(cli.run("predict" + model + " --json " + cli.path("data/test")), 0) << cli.log();
  const nlohmann::json j = nlohmann::json::parse(cli.log());  // stdout (and an empty stderr)
  ASSERT_EQ(j.size(), rows.size() - 1);
  for (size_t r = 1; r < rows.size(); ++r) {
    const nlohmann::json& one = j[r - 1];
    EXPECT_EQ(one["file"], rows[r][0]);
    EXPECT_EQ(one["predicted"], rows[r][3]);
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(one["probabilities"][rows[0][5 + k].substr(2)].get<double>(), std::stod(rows[r][5 + k]), 1e-5)
          << rows[r][0];
  }

  // Files as a table: every row's first probability ends where the header's first class name ends.
  ASSERT_EQ(cli.run("predict" + model + " " + rows[1][0] + " " + rows[9][0]), 0) << cli.log();
  std::vector<std::string> lines;
  {
    std::istringstream in(cli.log());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  ASSERT_EQ(lines.size(), 3u) << cli.log();
  const size_t col = lines[0].find("COVID19");
  ASSERT_NE(col, std::string::npos) << cli.log();
  for (size_t i = 1; i < 3; ++i) {
    const size_t start = lines[i].find_first_not_of(' ', lines[i].find_first_of(' ', col - 3));
    EXPECT_EQ(lines[i].find(' ', start), col + 7) << cli.log();  // "COVID19" is 7 wide, "0.3273" ends there
  }

  // --classes takes one comma-separated value: the images after it stay images.
  ASSERT_EQ(cli.run("predict" + model + " --classes COVID19,NORMAL,PNEUMONIA " + rows[1][0] + " " + rows[9][0]), 0)
      << cli.log();
  EXPECT_NE(cli.log().find(rows[9][0]), std::string::npos) << cli.log();

  // A missing file among good ones: named, the others still predicted, exit 1.
  EXPECT_EQ(cli.run("predict" + model + " " + cli.path("missing.png") + " " + rows[1][0]), 1);
  EXPECT_NE(cli.log().find(cli.path("missing.png")), std::string::npos) << cli.log();
  EXPECT_NE(cli.log().find(rows[1][0] + " "), std::string::npos) << "not predicted:\n" << cli.log();

  // An unreadable file among good ones: named, the others still predicted, exit 1.
  { std::ofstream(cli.path("bad.png")) << "not a PNG"; }
  EXPECT_EQ(cli.run("predict" + model + " " + rows[1][0] + " " + cli.path("bad.png")), 1);
  EXPECT_NE(cli.log().find(cli.path("bad.png")), std::string::npos) << cli.log();
  EXPECT_NE(cli.log().find(rows[1][0]), std::string::npos) << cli.log();
  EXPECT_NE(cli.log().find("1 of 2 images could not be read"), std::string::npos) << cli.log();
}

// `cxr eval --ci`, calibration and temperature scaling on the command line: intervals in the text and the
// JSON, the same for any thread count; --fit-temperature stores T in the checkpoint, which eval and predict
// then apply to the probabilities they show (argmax unchanged) unless --temperature none; bad values are
// usage errors (exit 2).
TEST(EvalCli, IntervalsCalibrationAndTemperature) {
  cxr_test::CliDir cli("cxr_test_eval_calibration");
  ASSERT_EQ(cli.run("synth --out " + cli.path("data") + " --size 32 --train 16 --val 6 --test 8 --seed 3 "
                    "--difficulty 0 --lesion-contrast 3"),
            0)
      << cli.log();
  ASSERT_EQ(cli.run(train_args(cli, "data", 32, 1, "m")), 0) << cli.log();
  const std::string model_path = cli.path("m/best.safetensors");
  const std::string eval = "eval --model " + model_path + " --data " + cli.path("data") + " --split test";

  // Intervals, with one and with two threads: the same JSON.
  ASSERT_EQ(cli.run(eval + " --ci 300 --ci-seed 4 --json " + cli.path("c1.json") + " --predictions " +
                    cli.path("raw.csv")),
            0)
      << cli.log();
  const std::string text = cli.log();
  EXPECT_NE(text.find("95% bootstrap percentile intervals (300 resamples of 24 patients, seed 4)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("calibration (top-label, 15 equal-width bins): ECE"), std::string::npos) << text;
  ASSERT_EQ(cxr_test::run_cxr("--threads 2 " + eval + " --ci 300 --ci-seed 4 --json " + cli.path("c2.json"),
                              cli.path("log.txt")),
            0)
      << cli.log();
  const nlohmann::json c1 = cli.json("c1.json"), c2 = cli.json("c2.json");
  EXPECT_EQ(c1["ci"], c2["ci"]);
  EXPECT_EQ(c1["ci"]["unit"], "patient");
  EXPECT_EQ(c1["ci"]["resamples"], 300);
  const nlohmann::json& acc = c1["ci"]["intervals"]["accuracy"];
  EXPECT_LE(acc["lo"].get<double>(), c1["accuracy"].get<double>());
  EXPECT_GE(acc["hi"].get<double>(), c1["accuracy"].get<double>());
  EXPECT_TRUE(c1["temperature"].is_null());
  ASSERT_EQ(c1["calibration"]["reliability"].size(), 15u);
  // ECE recomputed from the per-image predictions: top-label, 15 bins (b/15, (b+1)/15].
  const auto raw = read_csv(cli, "raw.csv");
  {
    std::vector<double> conf(15, 0), right(15, 0), count(15, 0);
    for (size_t r = 1; r < raw.size(); ++r) {
      double best = -1;
      for (int k = 0; k < 3; ++k) best = std::max(best, static_cast<double>(std::stof(raw[r][5 + k])));
      const int b = std::clamp(static_cast<int>(std::ceil(best * 15)) - 1, 0, 14);
      conf[b] += best, right[b] += raw[r][4] == "1", count[b] += 1;
    }
    double ece = 0;
    for (int b = 0; b < 15; ++b)
      if (count[b] > 0) ece += std::abs(right[b] / count[b] - conf[b] / count[b]) * count[b] / (raw.size() - 1);
    EXPECT_NEAR(c1["calibration"]["ece"].get<double>(), ece, 1e-5);
  }

  // Fit on val: NLL and ECE before and after, T stored in the checkpoint.
  ASSERT_EQ(cli.run(eval + " --fit-temperature --json " + cli.path("f.json")), 0) << cli.log();
  EXPECT_NE(cli.log().find("temperature scaling fitted on the val split (18 images): T = "), std::string::npos)
      << cli.log();
  EXPECT_NE(cli.log().find("val NLL "), std::string::npos) << cli.log();
  const double t = cxr::io::read_checkpoint_meta(model_path).temperature;
  ASSERT_GT(t, 0);
  EXPECT_DOUBLE_EQ(cli.json("f.json")["temperature"].get<double>(), t);

  // eval applies the stored T by default (probabilities softmax(log p / T), argmax unchanged), not with none.
  ASSERT_EQ(cli.run(eval + " --predictions " + cli.path("scaled.csv") + " --json " + cli.path("s.json")), 0)
      << cli.log();
  EXPECT_NE(cli.log().find("probabilities scaled by temperature T = "), std::string::npos) << cli.log();
  ASSERT_TRUE(cli.json("s.json")["temperature"].is_number()) << cli.log();
  EXPECT_DOUBLE_EQ(cli.json("s.json")["temperature"].get<double>(), t);
  EXPECT_EQ(cli.json("s.json")["accuracy"], c1["accuracy"]);
  const auto scaled = read_csv(cli, "scaled.csv");
  ASSERT_EQ(scaled.size(), raw.size());
  double moved = 0;
  for (size_t r = 1; r < raw.size(); ++r) {
    EXPECT_EQ(scaled[r][3], raw[r][3]) << "argmax changed, row " << r;
    double l[3], mx = -1e300, s = 0;
    for (int k = 0; k < 3; ++k) mx = std::max(mx, l[k] = std::log(std::max(std::stod(raw[r][5 + k]), 1e-45)) / t);
    for (double& v : l) s += v = std::exp(v - mx);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(std::stod(scaled[r][5 + k]), l[k] / s, 2e-5) << "row " << r;
      moved = std::max(moved, std::abs(std::stod(scaled[r][5 + k]) - std::stod(raw[r][5 + k])));
    }
  }
  EXPECT_GT(moved, 1e-3) << "T = " << t << " changed no probability";
  ASSERT_EQ(cli.run(eval + " --temperature none --json " + cli.path("n.json")), 0) << cli.log();
  EXPECT_TRUE(cli.json("n.json")["temperature"].is_null());
  EXPECT_EQ(cli.json("n.json")["calibration"], c1["calibration"]);

  // predict: stored T applied (the same probabilities as eval's), none gives the raw ones.
  const std::string image = raw[1][0];
  ASSERT_EQ(cli.run("predict --model " + model_path + " --json " + image), 0) << cli.log();
  const nlohmann::json ps = nlohmann::json::parse(cli.log());
  ASSERT_EQ(cli.run("predict --model " + model_path + " --temperature none --json " + image), 0) << cli.log();
  const nlohmann::json pn = nlohmann::json::parse(cli.log());
  ASSERT_TRUE(ps[0].contains("temperature")) << ps.dump();
  EXPECT_DOUBLE_EQ(ps[0]["temperature"].get<double>(), t);
  EXPECT_FALSE(pn[0].contains("temperature"));
  for (int k = 0; k < 3; ++k) {
    const std::string c = raw[0][5 + k].substr(2);
    EXPECT_NEAR(ps[0]["probabilities"][c].get<double>(), std::stod(scaled[1][5 + k]), 1e-5) << c;
    EXPECT_NEAR(pn[0]["probabilities"][c].get<double>(), std::stod(raw[1][5 + k]), 1e-5) << c;
  }

  // Usage errors: exit 2.
  EXPECT_EQ(cli.run(eval + " --ci 0"), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --ci -3"), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --ci abc"), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --temperature abc"), 2) << cli.log();
  EXPECT_NE(cli.log().find("'abc' is not stored, none or a temperature > 0"), std::string::npos) << cli.log();
  EXPECT_EQ(cli.run(eval + " --temperature 0"), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --temperature -1.5"), 2) << cli.log();
  EXPECT_EQ(cli.run("predict --model " + model_path + " --temperature abc " + image), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --fit-temperature --temperature 2"), 2) << cli.log();
  EXPECT_EQ(cli.run(eval + " --model " + model_path + " --fit-temperature"), 2) << cli.log();
}
