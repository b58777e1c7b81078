// The per-epoch record of a training run: printed as one Keras-like line per epoch and kept in
// RUN_DIR/history.csv with the same columns (epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace cxr {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double loss = 0, accuracy = 0, val_loss = 0, val_accuracy = 0, lr = 0, seconds = 0;
};

std::string format_epoch_line(const EpochRecord& r, int epochs);  // "Epoch 3/20 - 41s - loss: ..."
void write_history_csv(const std::string& path, const std::vector<EpochRecord>& h);  // atomic
std::vector<EpochRecord> read_history_csv(const std::string& path);  // throws naming the file and line
// The same from the file's bytes; `name` plays the file in messages. Limits: kMaxHistoryBytes for the file
// (checked before reading it), kMaxHistoryRows epochs.
std::vector<EpochRecord> parse_history_csv(const std::string& text, const std::string& name);
inline constexpr size_t kMaxHistoryBytes = size_t{64} << 20;  // 64 MiB (a 1000-epoch run writes ~60 kB)
inline constexpr size_t kMaxHistoryRows = 100'000;  // epochs

}  // namespace cxr
