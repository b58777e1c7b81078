// The teaching pages (docs/LEARN.md and the chapters it walks through) keep the shape a student relies on:
// each ends with "Check yourself" questions whose answers are folded (<details>) and with "Try this"
// commands, and none sends the reader to what they cannot follow: this project's issue or session numbers,
// or the shared data folder of its own machine.
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

const char* const kTeachingDocs[] = {"LEARN.md",   "AUTOGRAD.md",     "IM2COL.md",
                                     "GRADCAM.md", "ARCHITECTURE.md", "EXERCISES.md"};

std::string read_doc(const std::string& name) {
  std::ifstream in(std::string(CXR_SOURCE_DIR) + "/docs/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what, size_t from = 0) {
  size_t n = 0;
  for (size_t at = text.find(what, from); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(TeachingDocs, EndWithCheckYourselfAndTryThis) {
  for (const char* name : kTeachingDocs) {
    SCOPED_TRACE(name);
    const std::string doc = read_doc(name);
    ASSERT_FALSE(doc.empty()) << "cannot read docs/" << name;
    const size_t check = doc.find("\n## Check yourself\n");
    const size_t try_this = doc.find("\n## Try this\n");
    ASSERT_NE(check, std::string::npos) << "no '## Check yourself' section";
    ASSERT_NE(try_this, std::string::npos) << "no '## Try this' section";
    EXPECT_LT(check, try_this) << "the questions come before the commands";
    // At least three questions, each answer folded, and nothing but the two sections after the questions.
    const std::string questions = doc.substr(check, try_this - check);
    EXPECT_GE(count(questions, "<details>"), 3u);
    EXPECT_EQ(count(questions, "<details>"), count(questions, "</details>"));
    EXPECT_EQ(doc.find("\n## ", try_this + 1), std::string::npos) << "'## Try this' is not the last section";
    EXPECT_NE(doc.find("```sh", try_this), std::string::npos) << "'## Try this' has no commands";
  }
}

TEST(TeachingDocs, NoProjectBookkeepingAStudentCannotFollow) {
  const std::regex bookkeeping(R"((\b[Ii]ssues? #?[0-9])|(\b[Ss]essions? [0-9])|(\.\./shared))");
  for (const char* name : kTeachingDocs) {
    const std::string doc = read_doc(name);
    std::smatch m;
    EXPECT_FALSE(std::regex_search(doc, m, bookkeeping)) << "docs/" << name << ": '" << m.str() << "'";
  }
}

}  // namespace
