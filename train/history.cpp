#include "train/history.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cxr {

std::string format_epoch_line(const EpochRecord& r, int epochs) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "Epoch %d/%d - %.0fs - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f - lr: %.3g",
                r.epoch, epochs, r.seconds, r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.lr);
  return buf;
}

void write_history_csv(const std::string& path, const std::vector<EpochRecord>& h) {
  std::ostringstream os;
  os << "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n";
  os.precision(8);
  for (const auto& r : h)
    os << r.epoch << ',' << r.loss << ',' << r.accuracy << ',' << r.val_loss << ',' << r.val_accuracy << ','
       << r.lr << ',' << r.seconds << '\n';
  cxr::write_file_atomic(path, os.str());
}

std::vector<EpochRecord> parse_history_csv(const std::string& text, const std::string& name) {
  CXR_CHECK(text.size() <= kMaxHistoryBytes, name, ": file is ", text.size(), " bytes, more than the limit of ",
            kMaxHistoryBytes, " bytes for a training history");
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  CXR_CHECK(line.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"), name,
            ": not a cxr history.csv (unexpected header '", line.substr(0, 200), "')");
  std::vector<EpochRecord> out;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    CXR_CHECK(out.size() < kMaxHistoryRows, name, ":", n, ": more than the limit of ", kMaxHistoryRows, " epochs");
    // Seven comma-separated numbers, each read whole (strtod / strtol: no overflow, no trailing text).
    double v[7];
    const char* p = line.c_str();
    bool ok = true;
    for (int i = 0; i < 7 && ok; ++i) {
      char* end = nullptr;
      v[i] = std::strtod(p, &end);
      ok = end != p && *end == (i < 6 ? ',' : '\0');
      p = end + (i < 6 ? 1 : 0);
    }
    ok = ok && v[0] == std::floor(v[0]) && v[0] >= 0 && v[0] <= 1e9;  // the epoch: a whole number
    CXR_CHECK(ok, name, ":", n, ": expected 7 numbers (the first a whole epoch number), got '", line.substr(0, 200),
              "'");
    EpochRecord r;
    r.epoch = static_cast<int>(v[0]);
    r.loss = v[1];
    r.accuracy = v[2];
    r.val_loss = v[3];
    r.val_accuracy = v[4];
    r.lr = v[5];
    r.seconds = v[6];
    out.push_back(r);
  }
  return out;
}

std::vector<EpochRecord> read_history_csv(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  CXR_CHECK(ec || size <= kMaxHistoryBytes, path, ": file is ", size, " bytes, more than the limit of ",
            kMaxHistoryBytes, " bytes for a training history");
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, path, ": cannot open training history");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_history_csv(text.str(), path);
}

}  // namespace cxr
