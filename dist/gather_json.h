// Results gathered as JSON: what a rank computed for its share of the items (one JSON value per item),
// brought to rank 0 in rank order, which is the items' order when the shares are contiguous (dist::share,
// dist::share_batches). Finite numbers survive the trip exactly: nlohmann writes the shortest text that
// reads back as the same double, and every float is a double exactly. NaN and infinities become null, as in
// every JSON file nlohmann writes: a reader of gathered results must take null for a non-finite number.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/comm.h"

namespace cxr::dist {

// Rank 0 gets the concatenation of every rank's array `mine`; the other ranks an empty array.
inline nlohmann::json gather_arrays(Comm& comm, const nlohmann::json& mine) {
  if (comm.size() == 1) return mine;
  const std::vector<std::string> parts = comm.gather(mine.dump());
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& p : parts)
    for (auto& v : nlohmann::json::parse(p)) all.push_back(std::move(v));
  return all;
}

// The sum over the ranks of a count (every rank gets it).
inline int64_t sum_over_ranks(Comm& comm, int64_t n) {
  double v = static_cast<double>(n);
  comm.allreduce_sum(&v, 1);
  return static_cast<int64_t>(v);
}

}  // namespace cxr::dist
