// The `cxr serve` page in headless Chromium, driven by tests/serve_page_test.py (selenium + chromedriver):
// upload, probabilities, overlay, method and layer switches, a --data image, the trust metrics, and a
// screenshot kept in the build folder (serve_page.png). Skips with a message when selenium, chromedriver or
// Chromium is missing (scripts/install-deps.sh test installs them).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "data/dataset.h"
#include "data/synth.h"
#include "io/checkpoint.h"
#include "models/model.h"
#include "tiny_model.h"
#include "run_cxr.h"

using namespace cxr;
namespace fs = std::filesystem;

TEST(ServeBrowser, PageUploadsExplainsAndSwitches) {
  // Debian's python3 (selenium is a Debian package); a pyenv or venv python3 on PATH may not have it.
  const std::string python = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  cxr_test::CliDir dir("cxr_serve_browser");
  data::SynthOptions so;
  so.size = 64;
  so.train = 0;
  so.val = 0;
  so.test = 2;
  const std::string data = (dir.dir / "data").string();
  data::write_dataset(so, data);
  const ModelConfig mc = cxr::test::tiny_vgg11_config(4);
  io::CheckpointMeta meta;
  meta.classes = {"COVID19", "NORMAL", "PNEUMONIA"};
  const std::string ckpt = (dir.dir / "tiny.safetensors").string();
  io::save_checkpoint(ckpt, *make_model(mc), meta);
  const std::string image = data::open_dataset(data).samples.at(0).path;
  const std::string shot = (fs::path(CXR_BINARY).parent_path() / "serve_page.png").string();
  const std::string log = (dir.dir / "log.txt").string();
  const std::string cmd = "timeout 180 " + python + " " + CXR_SOURCE_DIR + "/tests/serve_page_test.py --cxr " +
                          CXR_BINARY + " --model " + ckpt + " --data " + data + " --image " + image +
                          " --screenshot " + shot + " > " + log + " 2>&1";
  const int rc = std::system(cmd.c_str());
  const int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  if (code == 77) GTEST_SKIP() << cxr_test::read_text(log);
  EXPECT_EQ(code, 0) << cxr_test::read_text(log);
  EXPECT_TRUE(fs::exists(shot));
}
