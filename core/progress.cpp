#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace cxr {

Progress::Progress(std::string label, int64_t total, std::FILE* out, double plain_every)
    : label_(std::move(label)), total_(total), out_(out), tty_(is_terminal(out)), plain_every_(plain_every),
      start_(std::chrono::steady_clock::now()) {}

bool Progress::is_terminal(std::FILE* f) { return f && isatty(fileno(f)); }

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_time(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  long t = std::lround(s);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string Progress::line(int64_t step, const std::vector<std::pair<std::string, double>>& fields,
                           int64_t items) const {
  const int width = 24;
  double frac = total_ > 0 ? std::min(1.0, static_cast<double>(step) / total_) : 0.0;
  int filled = static_cast<int>(frac * width);
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s [%s] %lld/%lld", label_.c_str(), bar.c_str(), static_cast<long long>(step),
                static_cast<long long>(total_));
  std::string s = buf;
  for (const auto& [name, value] : fields) {
    std::snprintf(buf, sizeof buf, "  %s %.4f", name.c_str(), value);
    s += buf;
  }
  double t = elapsed();
  if (items >= 0 && t > 0) {
    std::snprintf(buf, sizeof buf, "  %.1f img/s", items / t);
    s += buf;
  }
  double eta = step > 0 ? t * (total_ - step) / step : NAN;
  s += "  " + std::string(step >= total_ ? "in " + format_time(t) : "ETA " + format_time(eta));
  return s;
}

void Progress::update(int64_t step, const std::vector<std::pair<std::string, double>>& fields, int64_t items) {
  if (!out_ || finished_) return;
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", line(step, fields, items).c_str());
    std::fflush(out_);
  } else if (elapsed() - last_print_ >= plain_every_ || step >= total_) {
    last_print_ = elapsed();
    std::fprintf(out_, "%s\n", line(step, fields, items).c_str());
    std::fflush(out_);
  }
}

void Progress::finish(const std::string& summary) {
  if (!out_ || finished_) return;
  finished_ = true;
  if (tty_) std::fprintf(out_, "\n");
  if (!summary.empty()) std::fprintf(out_, "%s\n", summary.c_str());
  std::fflush(out_);
}

}  // namespace cxr
