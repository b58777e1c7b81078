// Every command with hostile arguments, as a careless or malicious user types them: missing files, folders
// where files belong and files where folders belong, output folders that cannot be created, outputs that
// would land inside the input, negative and huge numbers, unicode and spaces in paths. Each must end with a
// clear message and exit 1 (runtime) or 2 (usage) in bounded time: never a crash (a signal), a hang, or an
// output left half-written. (Reading the files themselves, hostile bytes, is the fuzzers' job: tests/fuzz.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "run_cxr.h"

using cxr_test::read_text;
namespace fs = std::filesystem;

namespace {

// One folder for the whole suite: a small synthetic dataset and a model trained on it for one epoch.
class HostileArgs : public ::testing::Test {
 protected:
  static inline fs::path dir;
  static std::string p(const std::string& name) { return (dir / name).string(); }
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("cxr_test_hostile_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "empty");
    std::ofstream(dir / "notes.txt") << "not an image\n";
    ASSERT_EQ(cxr_test::run_cxr("--threads 1 synth --out " + p("d") + " --size 32 --seed 2 --train 4 --val 2 --test 2",
                                p("setup.log")), 0) << read_text(p("setup.log"));
    ASSERT_EQ(cxr_test::run_cxr("--threads 1 train --data " + p("d") + " --arch vgg11 --width 0.125 --size 32 "
                                "--epochs 1 --batch 4 --out " + p("run"), p("setup.log")), 0)
        << read_text(p("setup.log"));
    // An image whose path has spaces and non-ASCII letters.
    for (const auto& e : fs::recursive_directory_iterator(dir / "d" / "test"))
      if (e.path().extension() == ".png") {
        fs::copy_file(e.path(), dir / "scan ünïcødé 1.png");
        break;
      }
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }

  // Runs `cxr ARGS` with a time limit; the exit status, or 128 + signal, or 124 on timeout.
  static int run(const std::string& args, std::string* log) {
    const std::string cmd = "timeout -s KILL 120 " + std::string(CXR_BINARY) + " --threads 1 " + args + " > " +
                            p("case.log") + " 2>&1";
    const int rc = std::system(cmd.c_str());
    *log = read_text(p("case.log"));
    if (WIFSIGNALED(rc)) return 128 + WTERMSIG(rc);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
};

struct Case {
  std::string args;  // with {D} the dataset, {M} the model, {R} the run folder, {T} the temp folder
  int code;          // 1 (runtime error) or 2 (usage error)
  std::string said;  // part of the message
  std::string never; // a path (under {T}) that must not exist afterwards ("" none)
};

std::string fill(std::string s, const std::string& t) {
  auto sub = [&](const std::string& key, const std::string& value) {
    for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + value.size()))
      s.replace(at, key.size(), value);
  };
  sub("{D}", t + "/d");
  sub("{M}", t + "/run/best.safetensors");
  sub("{R}", t + "/run");
  sub("{T}", t);
  return s;
}

}  // namespace

TEST_F(HostileArgs, EveryCommandFailsCleanly) {
  const std::vector<Case> cases = {
      // missing files and folders
      {"info {T}/missing.png", 1, "missing.png", ""},
      {"info --check {T}/empty", 1, "empty", ""},
      {"train --data {T}/missing --out {T}/o1", 1, "missing", "{T}/o1"},
      {"eval --model {T}/missing.safetensors --data {D}", 1, "missing.safetensors", ""},
      {"predict --model {M} {T}/missing.png", 1, "missing.png", ""},
      {"explain --model {M} --out {T}/o2 {T}/missing.png", 1, "missing.png", ""},
      {"features --model {M} --image {T}/missing.png --out {T}/o3", 1, "missing.png", "{T}/o3"},
      {"xai-eval --model {M} --data {T}/missing", 1, "missing", ""},
      {"report --run {T}/missing --out {T}/r.html", 1, "missing", "{T}/r.html"},
      {"summary --model {T}/missing.safetensors", 1, "missing.safetensors", ""},
      {"train --resume {T}/missing", 1, "missing", ""},
      // a folder where a file belongs, a file where a model or a folder belongs
      {"eval --model {T}/empty --data {D}", 1, "empty", ""},
      {"eval --model {T}/notes.txt --data {D}", 1, "notes.txt", ""},
      {"predict --model {M} {T}/notes.txt", 1, "notes.txt", ""},
      {"features --model {M} --image {T}/empty --out {T}/o4", 1, "empty", "{T}/o4"},
      {"train --data {T}/notes.txt --out {T}/o5", 1, "notes.txt", "{T}/o5"},
      {"report --run {D} --out {T}/r2.html", 1, "", "{T}/r2.html"},
      // output folders that cannot be made: under a regular file, or where no one may write (/proc)
      {"synth --out {T}/notes.txt/sub --count 1 --size 32", 1, "notes.txt", ""},
      {"synth --out /proc/cxr_cannot_write --count 1 --size 32", 1, "/proc/cxr_cannot_write", ""},
      {"train --data {D} --arch vgg11 --width 0.125 --size 32 --epochs 1 --out {T}/notes.txt/run", 1, "notes.txt", ""},
      {"explain --model {M} --out {T}/notes.txt {D}/test", 1, "notes.txt", ""},
      {"eval --model {M} --data {D} --json /proc/cxr_cannot_write.json", 1, "cxr_cannot_write", ""},
      // an output that is one of the inputs
      {"report --run {R} --out {M}", 1, "", ""},
      // negative, zero and huge numbers
      {"train --data {D} --epochs -1 --out {T}/o6", 2, "--epochs", "{T}/o6"},
      {"train --data {D} --batch 0 --out {T}/o7", 2, "--batch", "{T}/o7"},
      {"train --data {D} --batch 99999999999999999999 --out {T}/o8", 2, "--batch", "{T}/o8"},
      {"train --data {D} --lr -1 --out {T}/o9", 2, "--lr", "{T}/o9"},
      {"train --data {D} --swa-lr 0.1 --out {T}/o17", 2, "--swa-lr needs --swa-start", "{T}/o17"},
      {"train --data {D} --width 1e30 --out {T}/o10", 2, "--width", "{T}/o10"},
      {"train --data {D} --size 33 --out {T}/o11", 2, "--size", "{T}/o11"},
      {"synth --out {T}/o12 --size -5", 2, "--size", "{T}/o12"},
      {"synth --out {T}/o13 --count 99999999999999", 2, "--count", "{T}/o13"},
      {"eval --model {M} --data {D} --batch -3", 2, "--batch", ""},
      {"explain --model {M} --out {T}/o14 --alpha 7 {D}/test", 2, "--alpha", "{T}/o14"},
      {"xai-eval --model {M} --data {D} --steps -2", 2, "--steps", ""},
      {"summary --arch vgg11 --width -1", 2, "--width", ""},
      {"summary --arch vgg11 --size 0", 2, "--size", ""},
      {"explain --model {M} --out {T}/o18 --tile 8 {D}/test", 2, "--tile: 8 is below 32", "{T}/o18"},
      {"xai-eval --model {M} --data {D} --limit -1", 2, "--limit: -1 is below 0", ""},
      {"features --model {M} --image '{T}/scan ünïcødé 1.png' --max-channels 0 --out {T}/o19", 2, "--max-channels",
       "{T}/o19"},
      {"report --run {R} --thumb 8 --out {T}/r3.html", 2, "--thumb", "{T}/r3.html"},
      {"report --run {R} --samples -1 --out {T}/r4.html", 2, "--samples", "{T}/r4.html"},
      {"info --threads 99999999999 {M}", 2, "--threads", ""},
      // unknown names
      {"explain --model {M} --out {T}/o15 --method nope {D}/test", 2, "nope", "{T}/o15"},
      {"eval --model {M} --data {D} --split nope", 2, "nope", ""},
      {"explain --model {M} --out {T}/o20 --colormap nope {D}/test", 2, "unknown colormap 'nope'", "{T}/o20"},
      {"xai-eval --model {M} --data {D} --deletion-baseline nope", 2, "unknown baseline 'nope'", ""},
      // names checked against the model in the file: still the argument's mistake, a usage error
      {"explain --model {M} --out {T}/o16 --layer nope {D}/test", 2, "unknown layer 'nope'", "{T}/o16"},
      {"explain --model {M} --out {T}/o21 --class nope {D}/test", 2, "--class 'nope': unknown class", "{T}/o21"},
      {"xai-eval --model {M} --data {D} --layer nope", 2, "unknown layer 'nope'", ""},
      {"report --run {R} --layer nope --out {T}/r5.html", 2, "unknown layer 'nope'", "{T}/r5.html"},
      {"features --model {M} --image '{T}/scan ünïcødé 1.png' --layers fc1 --out {T}/o22", 2, "fc1", "{T}/o22"},
      // options that do not go together
      {"explain --model {M} --out {T}/o23 --method eigencam --counterfactual {D}/test", 2, "--counterfactual",
       "{T}/o23"},
      {"explain --model {M} --out {T}/o24 --masks {D} {D}/test", 2, "--masks requires --metrics", "{T}/o24"},
  };
  for (const Case& c : cases) {
    const std::string args = fill(c.args, dir.string());
    std::string log;
    const int rc = run(args, &log);
    EXPECT_EQ(rc, c.code) << "cxr " << args << "\n" << log;
    EXPECT_EQ(log.find("terminate called"), std::string::npos) << args << "\n" << log;
    EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << args << "\n" << log;
    EXPECT_NE(log.find("cxr"), std::string::npos) << "no message naming the program: " << args << "\n" << log;
    if (!c.said.empty()) {
      EXPECT_NE(log.find(fill(c.said, dir.string())), std::string::npos) << args << "\n" << log;
    }
    if (!c.never.empty()) {
      EXPECT_FALSE(fs::exists(fill(c.never, dir.string()))) << args << " left " << c.never;
    }
  }
  // The model the report was refused to overwrite is still a model.
  std::string log;
  EXPECT_EQ(run("info --check " + p("run/best.safetensors"), &log), 0) << log;
}

// Spaces and non-ASCII letters in paths are ordinary: everything works and the outputs carry the names.
TEST_F(HostileArgs, SpacesAndUnicodeInPathsWork) {
  const std::string img = cxr::str("'", p("scan ünïcødé 1.png"), "'");
  std::string log;
  EXPECT_EQ(run("info " + img, &log), 0) << log;
  EXPECT_EQ(run("predict --model " + p("run/best.safetensors") + " " + img, &log), 0) << log;
  EXPECT_NE(log.find("scan ünïcødé 1.png"), std::string::npos) << log;
  const std::string out = p("out dir ü");
  EXPECT_EQ(run("explain --model " + p("run/best.safetensors") + " --no-panel --out '" + out + "' " + img, &log), 0)
      << log;
  // File names are made safe (non-ASCII letters and spaces become '_'); the manifest keeps the real path.
  bool overlay = false;
  for (const auto& e : fs::directory_iterator(out)) overlay |= e.path().filename().string().starts_with("scan_");
  EXPECT_NE(read_text(out + "/explanations.json").find("scan ünïcødé 1.png"), std::string::npos);
  EXPECT_TRUE(overlay) << "no overlay named after the input in " << out;
}
