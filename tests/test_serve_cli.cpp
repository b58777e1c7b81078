// The real `cxr serve` binary: it prints the address, answers on it, and SIGTERM or SIGINT ends it cleanly
// with exit code 0; a bad --port or a missing model is an error before anything listens.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "models/model.h"
#include "run_cxr.h"

using namespace cxr;
namespace fs = std::filesystem;

namespace {

std::string tiny_checkpoint(const fs::path& dir) {
  ModelConfig mc;
  mc.arch = "vgg11";
  mc.width = 0.0625f;
  mc.in_channels = 1;
  mc.input_size = 32;
  mc.head = "gap";
  mc.num_classes = 2;
  io::CheckpointMeta meta;
  meta.classes = {"NORMAL", "PNEUMONIA"};
  const std::string path = (dir / "tiny.safetensors").string();
  io::save_checkpoint(path, *make_model(mc), meta);
  return path;
}

// `cxr serve ARGS` as a child with stdout to a pipe; the port read from the "Open http://..." line.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
  int port = -1;
  std::string printed;
  explicit Child(const std::vector<std::string>& args) {
    int fd[2];
    if (::pipe(fd) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(fd[1], 1);
      ::close(fd[0]);
      std::vector<char*> argv = {const_cast<char*>(CXR_BINARY), const_cast<char*>("--threads"), const_cast<char*>("1"),
                                 const_cast<char*>("serve")};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(CXR_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fd[1]);
    out = ::fdopen(fd[0], "r");
    char line[512];
    const std::regex open(R"(Open http://127\.0\.0\.1:(\d+)/)");
    while (std::fgets(line, sizeof line, out)) {  // until the address line (or the child's end)
      printed += line;
      std::cmatch m;
      if (std::regex_search(line, m, open)) {
        port = std::stoi(m[1]);
        break;
      }
    }
  }
  // Waits up to 20 s for the exit; its status, or -1.
  int wait_exit() {
    for (int i = 0; i < 200; ++i) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out) std::fclose(out);
  }
};

}  // namespace

TEST(ServeCli, StopsCleanlyOnSigtermAndSigint) {
  cxr_test::CliDir dir("cxr_serve_cli");
  const std::string ckpt = tiny_checkpoint(dir.dir);
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    Child c({"--model", ckpt, "--port", "0"});
    ASSERT_GT(c.port, 0) << c.printed;
    httplib::Client client("127.0.0.1", c.port);
    auto r = client.Get("/api/info");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(nlohmann::json::parse(r->body)["classes"], nlohmann::json({"NORMAL", "PNEUMONIA"}));
    ASSERT_EQ(::kill(c.pid, sig), 0);
    EXPECT_EQ(c.wait_exit(), 0);
  }
}

TEST(ServeCli, UsageAndRuntimeErrors) {
  cxr_test::CliDir dir("cxr_serve_cli_err");
  EXPECT_EQ(cxr_test::run_cxr("serve --model x.safetensors --port 70000", (dir.dir / "log").string()), 2);
  EXPECT_EQ(cxr_test::run_cxr("serve --model " + (dir.dir / "missing.safetensors").string(),
                              (dir.dir / "log").string()), 1);
  EXPECT_NE(cxr_test::read_text((dir.dir / "log").string()).find("missing.safetensors"), std::string::npos);
}
