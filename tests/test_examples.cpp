// The programs in examples/ print the numbers the teaching docs show. This test runs each one and compares
// its output, line by line, with the block that follows the line
//   <!-- the output of examples/NAME.cpp, checked by tests/test_examples.cpp -->
// in its doc, so a doc cannot keep a number the code no longer gives (as tests/test_cli_docs.cpp keeps
// docs/CLI.md true to the program's --help).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    out.push_back(line);
  }
  return out;
}

// The fenced block after the marker naming the example ("" and a failure when there is none).
std::string doc_block(const std::string& doc, const std::string& example) {
  const std::string marker = "<!-- the output of examples/" + example + ".cpp, checked by tests/test_examples.cpp -->";
  const size_t at = doc.find(marker);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no line '" << marker << "'";
    return "";
  }
  const size_t open = doc.find("```", at);
  const size_t body = open == std::string::npos ? open : doc.find('\n', open);
  const size_t close = body == std::string::npos ? body : doc.find("\n```", body);
  if (close == std::string::npos) {
    ADD_FAILURE() << "no fenced block after '" << marker << "'";
    return "";
  }
  return doc.substr(body + 1, close + 1 - (body + 1));
}

// The program's standard output; its exit status in rc.
std::string run(const std::string& example, int& rc) {
  const fs::path exe = fs::path(CXR_EXAMPLES_DIR) / ("example_" + example);
  const fs::path log = fs::temp_directory_path() / ("cxr_test_examples_" + example + "_" + std::to_string(::getpid()));
  const int status = std::system((exe.string() + " > " + log.string()).c_str());
  rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string out = read_text(log);
  fs::remove(log);
  return out;
}

void expect_doc_shows_output(const std::string& doc_name, const std::string& example) {
  const std::string doc = read_text(fs::path(CXR_SOURCE_DIR) / "docs" / doc_name);
  ASSERT_FALSE(doc.empty()) << "docs/" << doc_name << " not found";
  int rc = 0;
  const std::vector<std::string> got = lines_of(run(example, rc));
  ASSERT_EQ(rc, 0) << "examples/" << example << " failed";
  const std::vector<std::string> want = lines_of(doc_block(doc, example));
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    const std::string g = i < got.size() ? got[i] : "(no line)", w = i < want.size() ? want[i] : "(no line)";
    EXPECT_EQ(g, w) << "line " << i + 1 << " of examples/" << example << "'s output differs from docs/"
                    << doc_name << " (update the doc from the program, not the other way round)";
  }
}

}  // namespace

TEST(Examples, AutogradStepPrintsWhatAutogradMdShows) { expect_doc_shows_output("AUTOGRAD.md", "autograd_step"); }
TEST(Examples, Im2colByHandPrintsWhatIm2colMdShows) { expect_doc_shows_output("IM2COL.md", "im2col_by_hand"); }
TEST(Examples, GradcamByHandPrintsWhatGradcamMdShows) { expect_doc_shows_output("GRADCAM.md", "gradcam_by_hand"); }
// It writes two_moons.png into the folder ctest runs it in (the build's examples/).
TEST(Examples, TwoMoonsPrintsWhatAutogradMdShows) { expect_doc_shows_output("AUTOGRAD.md", "two_moons"); }
