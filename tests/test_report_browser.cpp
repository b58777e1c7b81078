// The report in a real browser: a report over a hand-made run (tests/report_fixture.h) is opened in headless
// Chromium, which must load it without a console message or script error, decode every inline image (the
// page's own script writes the count into #img-check, read back with --dump-dom), and render a page that is
// not blank (the screenshot, decoded with image::load_image, has many colours and plenty of non-white pixels).
// A control page with a broken image, a script error and nothing on it must fail each of those checks, so the
// checks can fail. Skipped when Chromium is not installed.
//
// Set CXR_REPORT_SCREENSHOT=path.png to keep the screenshot.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/threading.h"
#include "image/image.h"
#include "report/report.h"
#include "report_fixture.h"

namespace fs = std::filesystem;
using namespace cxr;

namespace {

std::string find_chromium() {
  if (const char* e = std::getenv("CXR_CHROMIUM"); e && *e && ::access(e, X_OK) == 0) return e;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  std::vector<std::string> all;
  while (std::getline(dirs, dir, ':')) all.push_back(dir);
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"})
    for (const auto& d : all) {
      const std::string p = d + "/" + name;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  return "";
}

std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

struct Browser {
  std::string exe, dir;
  // Runs Chromium headless on `page` with extra flags; stdout and stderr go to files; returns the exit code.
  int run(const std::string& page, const std::string& flags, const std::string& out, const std::string& err) const {
    const std::string cmd = "timeout 120 " + quote(exe) +
                            " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions"
                            " --disable-dev-shm-usage --hide-scrollbars --user-data-dir=" +
                            quote(dir + "/profile") + " --enable-logging=stderr --v=0 " + flags + " " +
                            quote("file://" + page) + " > " + quote(out) + " 2> " + quote(err);
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
};

struct PageCheck {
  int decoded = -1, total = -1;
  std::vector<std::string> console;  // console messages and uncaught errors
  double non_white = 0;              // share of screenshot pixels that are not (nearly) white
  size_t colours = 0;                // distinct colours at 5 bits per channel
  int width = 0, height = 0;
};

PageCheck check_page(const Browser& b, const std::string& page, const std::string& tag) {
  PageCheck c;
  const std::string dom = b.dir + "/" + tag + "_dom.html", log1 = b.dir + "/" + tag + "_dom.log";
  EXPECT_EQ(b.run(page, "--dump-dom", dom, log1), 0) << cxr::read_file(log1);
  const std::string html = cxr::read_file(dom);
  // The #img-check element's attributes, as the page's script left them.
  const size_t at = html.find("id=\"img-check\"");
  if (at != std::string::npos) {
    const std::string tag = html.substr(html.rfind('<', at), html.find('>', at) - html.rfind('<', at));
    auto attr = [&](const std::string& name) {
      const size_t p = tag.find(name + "=\"");
      return p == std::string::npos ? -2 : std::atoi(tag.c_str() + p + name.size() + 2);
    };
    c.decoded = attr("data-decoded");
    c.total = attr("data-total");
  }
  const std::string shot = b.dir + "/" + tag + ".png", log2 = b.dir + "/" + tag + "_shot.log";
  EXPECT_EQ(b.run(page, "--window-size=1280,2000 --screenshot=" + quote(shot), b.dir + "/out.txt", log2), 0)
      << cxr::read_file(log2);
  for (const std::string& log : {log1, log2}) {
    std::stringstream ls(cxr::read_file(log));
    std::string line;
    while (std::getline(ls, line))
      if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
        c.console.push_back(line);
  }
  if (!fs::exists(shot)) return c;
  const image::Image img = image::load_image(shot);
  c.width = img.width();
  c.height = img.height();
  const int64_t n = static_cast<int64_t>(c.width) * c.height, C = img.channels();
  std::set<uint32_t> colours;
  int64_t non_white = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t key = 0;
    bool white = true;
    for (int64_t ch = 0; ch < std::min<int64_t>(C, 3); ++ch) {
      const float v = img.pixels[ch * n + i];
      white = white && v > 0.94f;
      key = key << 5 | static_cast<uint32_t>(v * 31.0f + 0.5f);
    }
    non_white += white ? 0 : 1;
    colours.insert(key);
  }
  c.non_white = static_cast<double>(non_white) / static_cast<double>(n);
  c.colours = colours.size();
  if (const char* keep = std::getenv("CXR_REPORT_SCREENSHOT"); keep && *keep && tag == "report")
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
  return c;
}

size_t count_of(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

}  // namespace

TEST(ReportBrowser, RendersInHeadlessChromium) {
  const std::string exe = find_chromium();
  if (exe.empty())
    GTEST_SKIP() << "Chromium is not installed; as root: apt-get update && apt-get install -y chromium "
                    "(or scripts/install-deps.sh test)";
  set_num_threads(1);
  const auto fx = report_test::make_report_fixture("cxr_test_report_browser");
  report::ReportOptions o;
  o.run_dir = fx.run;
  o.data = fx.data;
  o.samples = 9;
  o.xai_images = 10;
  o.batch = 5;
  const std::string page = fs::absolute(fx.root + "/report.html").string();
  report::write_report(o, page);
  const size_t images = count_of(cxr::read_file(page), "<img ");
  ASSERT_GE(images, 27u);

  const Browser b{exe, fx.root};
  const PageCheck r = check_page(b, page, "report");
  EXPECT_EQ(r.total, static_cast<int>(images)) << "the page's script did not run, or the DOM was not dumped";
  EXPECT_EQ(r.decoded, static_cast<int>(images)) << "some images did not decode";
  EXPECT_TRUE(r.console.empty()) << r.console.front();
  EXPECT_EQ(r.width, 1280);
  EXPECT_EQ(r.height, 2000);
  EXPECT_GT(r.non_white, 0.12) << "the page looks blank";
  EXPECT_GT(r.colours, 400u) << "the page looks blank";

  // Control: a broken image, a script error, next to nothing drawn. Every check must notice.
  const std::string control = fx.root + "/control.html";
  cxr::write_file_atomic(control,
                        "<!DOCTYPE html><html><body><img src=\"data:image/png;base64,AAAA\" alt=\"broken\">"
                        "<span id=\"img-check\" data-decoded=\"-1\">?</span>"
                        "<script>window.addEventListener('load',function(){var a=document.images,n=0;"
                        "for(var i=0;i<a.length;i++){if(a[i].complete&&a[i].naturalWidth>0)n++;}"
                        "var e=document.getElementById('img-check');e.setAttribute('data-decoded',n);"
                        "e.setAttribute('data-total',a.length);});</script><script>undefinedFunction();</script>"
                        "</body></html>");
  const PageCheck c = check_page(b, control, "control");
  EXPECT_EQ(c.total, 1);
  EXPECT_EQ(c.decoded, 0);
  ASSERT_FALSE(c.console.empty());
  EXPECT_NE(c.console.front().find("undefinedFunction"), std::string::npos) << c.console.front();
  EXPECT_LT(c.non_white, 0.12);
  EXPECT_LT(c.colours, 400u);
  fs::remove_all(fx.root);
}
