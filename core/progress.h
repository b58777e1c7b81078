// Progress: the live bar that training, evaluation and explanation show, Keras-style.
//
// On a terminal the bar redraws in place:
//   epoch 3/20  [=========>          ]  45/100  loss 0.4213  acc 0.8611  37.2 img/s  ETA 00:14
// When the stream is not a terminal (CI logs, files) it prints a plain line every `plain_every` seconds and
// at the end instead, so logs stay readable.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::FILE* out = stdout, double plain_every = 10.0);
  // step: items done so far (1..total); fields: name/value pairs; items: images done, for the img/s figure.
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& fields = {}, int64_t items = -1);
  void finish(const std::string& summary = "");  // ends the bar's line (prints summary after it)
  double elapsed() const;                        // seconds since construction
  static bool is_terminal(std::FILE* f);
  static std::string format_time(double seconds);  // "01:02:03" or "02:03"

 private:
  std::string line(int64_t step, const std::vector<std::pair<std::string, double>>& fields, int64_t items) const;
  std::string label_;
  int64_t total_;
  std::FILE* out_;
  bool tty_;
  double plain_every_, last_print_ = -1e9;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cxr
