// A training run survives what a user's machine does to it: SIGKILL at any moment (in a step, in
// validation, half-way through a checkpoint write, between two renames), a full disk, SIGTERM and
// Ctrl-C (twice). After each, `cxr train --resume` goes on and the run ends with the weights, best
// checkpoint and history of the same run never interrupted, bit for bit (train/run_files.h says why).
//
// The runs are the real `cxr` binary on a tiny synthetic set (vgg11-bn at width 1/8, 32 px), with the
// test hooks of core/atomic_file.h: CXR_TEST_WRITE_DELAY_MS stretches every file write so that random kill
// times land inside writes, CXR_TEST_DISK_BYTES fills the "disk".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "run_cxr.h"

extern char** environ;

namespace fs = std::filesystem;
using cxr_test::CliDir;
using cxr_test::read_text;

namespace {

// A running `cxr --threads 1 ARGS`, its output in `log`, with `env` ("NAME=value") added to ours.
struct Child {
  pid_t pid = -1;
  Child(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {CXR_BINARY, "--threads", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    std::vector<std::string> envs = env;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    std::vector<char*> ev;
    for (auto& s : envs) ev.push_back(s.data());
    ev.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawn(&pid, CXR_BINARY, &fa, nullptr, a.data(), ev.data());
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << CXR_BINARY << ": " << std::strerror(rc);
  }
  // The raw wait status.
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }
  // True when it has ended; `status` is then its wait status.
  bool ended(int& status) { return waitpid(pid, &status, WNOHANG) == pid; }
};

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// The options of the run every test here makes (and its uninterrupted twin).
std::vector<std::string> train_args(const std::string& data, const std::string& out, int epochs) {
  return {"train", "--data", data, "--arch", "vgg11", "--bn", "--width", "0.125", "--size", "32",
          "--head", "gap256", "--epochs", std::to_string(epochs), "--batch", "8", "--seed", "2",
          "--schedule", "plateau", "--patience", "0", "--workers", "1", "--out", out};
}
std::vector<std::string> resume_args(const std::string& out) { return {"train", "--resume", out}; }

// Every tensor of two safetensors files, bit for bit ("" when equal, else the first difference).
std::string tensor_difference(const std::string& a, const std::string& b) {
  const auto x = cxr::io::load_safetensors(a), y = cxr::io::load_safetensors(b);
  if (x.tensors.size() != y.tensors.size()) return "different tensor counts";
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    const cxr::Tensor &p = x.tensors[i].value, &q = y.tensors[i].value;
    if (x.tensors[i].name != y.tensors[i].name || p.numel() != q.numel()) return "tensor " + x.tensors[i].name;
    if (std::memcmp(p.data(), q.data(), sizeof(float) * p.numel()) != 0) return x.tensors[i].name + " differs";
  }
  return "";
}

// history.csv without its wall-time column (the last one).
std::string history_without_seconds(const std::string& path) {
  std::istringstream in(read_text(path));
  std::string out, line;
  while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
  return out;
}

// The run in `out` ended as the uninterrupted one in `ref` did.
void expect_same_run(const std::string& ref, const std::string& out) {
  for (const char* f : {"last.safetensors", "best.safetensors", "last.optim.safetensors"})
    EXPECT_EQ(tensor_difference(ref + "/" + f, out + "/" + f), "") << f;
  EXPECT_EQ(history_without_seconds(ref + "/history.csv"), history_without_seconds(out + "/history.csv"));
  EXPECT_EQ(read_text(ref + "/state.json"), read_text(out + "/state.json"));
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".prev"), std::string::npos) << name << " left behind";
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name << " left behind";
  }
}

// A moment inside an epoch's transaction: a temporary or .prev file is in the folder.
bool inside_writes(const std::string& out) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(out, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos || name.find(".prev") != std::string::npos) return true;
  }
  return false;
}

// A small synthetic set and an uninterrupted run on it, made once for all tests.
struct Fixture {
  CliDir d{"cxr_test_crash"};
  std::string data = d.path("data"), ref = d.path("ref");
  static constexpr int kEpochs = 10;
  Fixture() {
    EXPECT_EQ(d.run("synth --out " + data + " --size 32 --train 12 --val 4 --test 0 --seed 3"), 0) << d.log();
    Child c(train_args(data, ref, kEpochs), d.path("ref.log"));
    const int s = c.wait();
    EXPECT_TRUE(WIFEXITED(s) && WEXITSTATUS(s) == 0) << read_text(d.path("ref.log"));
  }
};
Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

TEST(CrashResume, SigkillAtRandomMomentsThenResumeGivesTheUninterruptedRun) {
  Fixture& f = fixture();
  std::mt19937 rng(20261205);
  int kills = 0, kills_in_writes = 0, rounds = 0, starts = 0;
  // Rounds of one whole run each, killed until it finishes, until at least 24 kills have been made.
  while (kills < 24) {
    ++rounds;
    const std::string out = f.d.path("killed" + std::to_string(rounds));
    bool finished = false, started = false;
    while (!finished) {
      ASSERT_LT(++starts, 300) << "no progress: " << kills << " kills";
      // Kill at a random moment; a write takes about 2 x 15 ms, an epoch's compute a few ms.
      Child c(started ? resume_args(out) : train_args(f.data, out, Fixture::kEpochs), f.d.path("run.log"),
              {"CXR_TEST_WRITE_DELAY_MS=15"});
      started = true;
      const int at = std::uniform_int_distribution<int>(30, 900)(rng);
      int status = 0;
      for (int t = 0; t < at && !c.ended(status); t += 2) sleep_ms(2);
      if (kill(c.pid, 0) == 0 && !c.ended(status)) {
        const bool in_writes = inside_writes(out);
        kill(c.pid, SIGKILL);
        status = c.wait();
        if (WIFSIGNALED(status)) {
          ++kills;
          kills_in_writes += in_writes;
          // Killed before config.json existed: there is no run yet, so it is started again, not resumed.
          if (!fs::exists(out + "/config.json")) started = false;
          continue;
        }
      }
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(f.d.path("run.log"));
      finished = true;
    }
    SCOPED_TRACE("round " + std::to_string(rounds));
    expect_same_run(f.ref, out);
  }
  std::printf("%d SIGKILLs over %d runs (%d inside an epoch's writes), %d processes\n", kills, rounds, kills_in_writes,
              starts);
  EXPECT_GE(kills_in_writes, 3) << "too few kills landed in the checkpoint writes to prove anything";
}

TEST(CrashResume, FullDiskStopsWithOneLineAndTheLastCheckpointResumes) {
  Fixture& f = fixture();
  const std::string out = f.d.path("full");
  // Room for the config and about two epochs of files: epoch 3 or so finds the disk full.
  uintmax_t epoch_bytes = 0;
  for (const char* name :
       {"last.safetensors", "best.safetensors", "last.optim.safetensors", "history.csv", "state.json"})
    epoch_bytes += fs::file_size(f.ref + "/" + name);
  const std::string room = "CXR_TEST_DISK_BYTES=" + std::to_string(2 * epoch_bytes + epoch_bytes / 2);
  Child c(train_args(f.data, out, Fixture::kEpochs), f.d.path("full.log"), {room});
  const int s = c.wait();
  const std::string log = read_text(f.d.path("full.log"));
  ASSERT_TRUE(WIFEXITED(s)) << log;
  EXPECT_EQ(WEXITSTATUS(s), 1) << log;
  // One line that names the file and the cause, after the progress output.
  const size_t at = log.find("cxr train: error: ");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string error = log.substr(at);
  EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  EXPECT_NE(error.find(out + "/"), std::string::npos) << "names the file: " << error;
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << error;
  // The last committed epoch's checkpoint is intact, and its state names it.
  const int done = nlohmann::json::parse(read_text(out + "/state.json")).at("epochs_done");
  EXPECT_GE(done, 1);
  EXPECT_LT(done, Fixture::kEpochs);
  // Space is back: resume finishes the run as if nothing happened.
  Child r(resume_args(out), f.d.path("full2.log"));
  const int s2 = r.wait();
  ASSERT_TRUE(WIFEXITED(s2) && WEXITSTATUS(s2) == 0) << read_text(f.d.path("full2.log"));
  expect_same_run(f.ref, out);
}

TEST(CrashResume, SigtermAndCtrlCStopWithTheirExitCodesAndResume) {
  Fixture& f = fixture();
  struct Case {
    const char* name;
    std::vector<int> signals;  // sent one after the other
  };
  for (const Case& k : {Case{"SIGTERM", {SIGTERM}}, Case{"Ctrl-C", {SIGINT}}, Case{"Ctrl-C twice", {SIGINT, SIGINT}}}) {
    SCOPED_TRACE(k.name);
    const std::string out = f.d.path(std::string("sig") + std::to_string(k.signals.size()) +
                                     std::to_string(k.signals[0]));
    Child c(train_args(f.data, out, Fixture::kEpochs), f.d.path("sig.log"), {"CXR_TEST_WRITE_DELAY_MS=15"});
    // Signalled once an epoch has been committed, while later epochs run.
    for (int t = 0; t < 20000 && !fs::exists(out + "/state.json"); t += 5) sleep_ms(5);
    ASSERT_TRUE(fs::exists(out + "/state.json")) << read_text(f.d.path("sig.log"));
    for (int sig : k.signals) kill(c.pid, sig);
    const int s = c.wait();
    const std::string log = read_text(f.d.path("sig.log"));
    if (k.signals.size() == 1) {
      // A single signal: the step finishes, interrupted.safetensors is written, 128 + the signal.
      ASSERT_TRUE(WIFEXITED(s)) << log;
      EXPECT_EQ(WEXITSTATUS(s), 128 + k.signals[0]) << log;
      EXPECT_NE(log.find("Interrupted in epoch"), std::string::npos) << log;
      EXPECT_TRUE(fs::exists(out + "/interrupted.safetensors"));
    } else {
      // The second Ctrl-C ends the process at once (or, if the first had already stopped it, 130).
      EXPECT_TRUE(WIFSIGNALED(s) ? WTERMSIG(s) == SIGINT : WEXITSTATUS(s) == 130) << log;
    }
    Child r(resume_args(out), f.d.path("sig2.log"));
    const int s2 = r.wait();
    ASSERT_TRUE(WIFEXITED(s2) && WEXITSTATUS(s2) == 0) << read_text(f.d.path("sig2.log"));
    expect_same_run(f.ref, out);
  }
}

TEST(CrashResume, ResumeWithoutARunSaysSo) {
  CliDir d("cxr_test_crash_none");
  EXPECT_EQ(d.run("train --resume " + d.path("nothing")), 1);
  EXPECT_NE(d.log().find("no run to continue"), std::string::npos) << d.log();
}
