// The dependency arrows of docs/ARCHITECTURE.md, kept true: every #include "folder/..." in a library folder
// names the folder itself or one it may use (CMakeLists.txt links the same), so the arrows only point down
// and a newcomer reading bottom-up never meets a name from above.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

// What each folder may include besides itself (transitively closed, as the libraries link).
const std::map<std::string, std::set<std::string>>& allowed() {
  static const std::map<std::string, std::set<std::string>> a = [] {
    std::map<std::string, std::set<std::string>> m;
    m["core"] = {};
    m["autograd"] = {"core"};
    m["layers"] = {"core", "autograd"};
    m["models"] = {"core", "autograd", "layers"};
    m["image"] = {"core"};
    m["dist"] = {"core"};
    m["data"] = {"core", "image", "dist"};
    m["io"] = {"core", "autograd", "layers", "models", "image"};
    m["explain"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io"};
    m["train"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io"};
    m["report"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io", "explain", "train"};
    // The examples are the learning path's programs: they build with core, autograd and layers alone.
    m["examples"] = {"core", "autograd", "layers"};
    // The exercises may use any library (their stubs and graders are the student's); no folder may use them.
    m["exercises"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io", "explain", "train",
                      "report"};
    m["serve"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io", "explain", "train", "report"};
    m["cli"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io", "explain", "train", "report",
                "serve"};
    // tools/: the repository's upkeep programs (cxr_figures), like cli a user of the libraries.
    m["tools"] = {"core", "autograd", "layers", "models", "image", "dist", "data", "io", "explain", "train",
                  "report"};
    return m;
  }();
  return a;
}

}  // namespace

TEST(Layering, IncludesPointOnlyDownward) {
  const std::regex include(R"re(^\s*#\s*include\s+"([a-z_]+)/)re");
  int files = 0;
  for (const auto& [folder, may] : allowed()) {
    const fs::path dir = fs::path(CXR_SOURCE_DIR) / folder;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
      ++files;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, include)) continue;
        const std::string to = m[1];
        if (!allowed().count(to)) continue;  // not a library folder (e.g. a system path with a slash)
        EXPECT_TRUE(to == folder || may.count(to))
            << fs::relative(e.path(), CXR_SOURCE_DIR).string() << ":" << n << " includes " << to << "/ from "
            << folder << "/: an arrow pointing up (docs/ARCHITECTURE.md)";
      }
    }
  }
  EXPECT_GT(files, 150);  // the tree was found and read (170 files when this was written)
}

// The test above can fail: an include from a lower folder to a higher one is refused.
TEST(Layering, TheRuleRefusesAnUpwardArrow) {
  EXPECT_EQ(allowed().at("image").count("models"), 0u);
  EXPECT_EQ(allowed().at("data").count("io"), 0u);
  EXPECT_EQ(allowed().at("explain").count("train"), 0u);
  EXPECT_EQ(allowed().at("core").size(), 0u);
  for (const auto& [folder, may] : allowed()) EXPECT_EQ(may.count("exercises"), 0u) << folder << " may use exercises/";
}
