// docs/CLI.md documents every option of every subcommand: its tables were generated from `cxr <command>
// --help`, and this test keeps them from falling behind the program. For each subcommand that `cxr --help`
// lists, every `--option` its help prints must appear as `--option` in that command's section
// ("## <command>") of docs/CLI.md, and the page must have no section for a command that does not exist.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run_cxr.h"

namespace fs = std::filesystem;

namespace {

std::string help_of(const std::string& command) {
  const std::string log = (fs::temp_directory_path() / ("cxr_test_cli_docs_" + std::to_string(::getpid()))).string();
  const int rc = cxr_test::run_cxr(command + " --help", log);
  std::string text = cxr_test::read_text(log);
  fs::remove(log);
  EXPECT_EQ(rc, 0) << command << " --help: " << text;
  return text;
}

// The subcommand names under "Subcommands:" in `cxr --help`.
std::vector<std::string> subcommands() {
  std::istringstream in(help_of(""));
  std::vector<std::string> out;
  bool listing = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Subcommands:"))
      listing = true;
    else if (listing && line.size() > 2 && line[0] == ' ' && line[2] != ' ')
      out.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

// The long option names ("--name") in the names part of a help line, e.g. "  -o,--out TEXT REQUIRED".
// (Plain scanning: std::regex makes GCC 12 warn inside libstdc++ at -O2.)
std::vector<std::string> long_options(const std::string& names) {
  std::vector<std::string> out;
  for (size_t at = names.find("--"); at != std::string::npos; at = names.find("--", at + 2)) {
    if (at > 0 && names[at - 1] != ' ' && names[at - 1] != ',') continue;
    size_t end = at + 2;
    while (end < names.size() && (std::islower(static_cast<unsigned char>(names[end])) ||
                                  std::isdigit(static_cast<unsigned char>(names[end])) || names[end] == '-'))
      ++end;
    if (end > at + 2) out.push_back(names.substr(at, end - at));
  }
  return out;
}

// The text of "## <name>" up to the next "## " heading ("" when there is no such section).
std::string section(const std::string& page, const std::string& name) {
  const std::string head = "\n## " + name + "\n";
  const size_t b = page.find(head);
  if (b == std::string::npos) return "";
  const size_t e = page.find("\n## ", b + head.size());
  return page.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

}  // namespace

TEST(CliDocs, EveryOptionOfEveryCommandIsDocumented) {
  const std::string page = cxr_test::read_text(std::string(CXR_SOURCE_DIR) + "/docs/CLI.md");
  ASSERT_FALSE(page.empty()) << "docs/CLI.md not found";
  const std::vector<std::string> commands = subcommands();
  ASSERT_GE(commands.size(), 10u) << "could not read the subcommands from cxr --help";
  for (const std::string& cmd : commands) {
    const std::string doc = section(page, cmd);
    ASSERT_FALSE(doc.empty()) << "docs/CLI.md has no section '## " << cmd << "'";
    std::istringstream in(help_of(cmd));
    int checked = 0;
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("  -")) continue;  // option lines start with two spaces and a dash
      const std::string names = line.substr(0, line.find("  ", 2));
      for (const std::string& opt : long_options(names)) {
        if (opt == "--help" || opt == "--threads" || opt == "--conv") continue;  // common: documented once, at the top
        ++checked;
        EXPECT_NE(doc.find("`" + opt + "`"), std::string::npos) << "cxr " << cmd << " " << opt
                                                                << " is not in docs/CLI.md's '## " << cmd << "'";
      }
    }
    EXPECT_GT(checked, 0) << "no option read from cxr " << cmd << " --help";
  }
  // No section for a command that is not there (one that was renamed or removed).
  const std::set<std::string> known(commands.begin(), commands.end());
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("## ") || line.size() < 4 || !std::islower(static_cast<unsigned char>(line[3]))) continue;
    const std::string name = line.substr(3);  // a command heading: "## xai-eval" (not "## Common to all commands")
    EXPECT_TRUE(known.count(name)) << "docs/CLI.md documents '" << name << "', which cxr --help does not list";
  }
}
