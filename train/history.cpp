#include "train/history.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"

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
  io::write_file_atomic(path, os.str());
}

std::vector<EpochRecord> read_history_csv(const std::string& path) {
  std::ifstream in(path);
  CXR_CHECK(in, path, ": cannot open training history");
  std::string line;
  std::getline(in, line);
  CXR_CHECK(line.rfind("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds", 0) == 0, path,
            ": not a cxr history.csv (unexpected header '", line, "')");
  std::vector<EpochRecord> out;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    EpochRecord r;
    int got = std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.loss, &r.accuracy, &r.val_loss,
                          &r.val_accuracy, &r.lr, &r.seconds);
    CXR_CHECK(got == 7, path, ":", n, ": expected 7 numbers, got '", line, "'");
    out.push_back(r);
  }
  return out;
}

}  // namespace cxr
