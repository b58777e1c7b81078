#include "layers/conv_algo.h"

#include <atomic>
#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"
#include "core/strings.h"
#include "core/threading.h"

namespace cxr {

namespace {

std::atomic<ConvAlgo> g_algo{ConvAlgo::im2col};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int>;  // N, C, H, W, K, threads
std::mutex g_mutex;
std::map<Key, ConvAlgo>& picks() {
  static std::map<Key, ConvAlgo> m;
  return m;
}
Key key_of(const ConvShape& s) { return {s.N, s.C, s.H, s.W, s.K, num_threads()}; }

}  // namespace

ConvAlgo parse_conv_algo(const std::string& name) {
  const std::string n = lower(name);
  if (n == "auto") return ConvAlgo::automatic;
  if (n == "im2col") return ConvAlgo::im2col;
  if (n == "winograd") return ConvAlgo::winograd;
  throw Error(str("unknown convolution algorithm '", name, "': use ", join(conv_algo_names(), " | ")));
}

const char* conv_algo_name(ConvAlgo a) {
  switch (a) {
    case ConvAlgo::automatic: return "auto";
    case ConvAlgo::winograd: return "winograd";
    case ConvAlgo::im2col: break;
  }
  return "im2col";
}

std::vector<std::string> conv_algo_names() { return {"auto", "im2col", "winograd"}; }

void set_conv_algo(ConvAlgo a) { g_algo = a; }
ConvAlgo conv_algo() { return g_algo; }

ConvAlgo resolve_conv_algo(ConvAlgo a, const ConvShape& s) {
  if (a == ConvAlgo::im2col || !s.winograd_applicable() || s.C < kWinogradMinChannels) return ConvAlgo::im2col;
  if (a == ConvAlgo::winograd) return ConvAlgo::winograd;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = picks().find(key_of(s));
  return it == picks().end() ? ConvAlgo::automatic : it->second;
}

void remember_conv_algo(const ConvShape& s, ConvAlgo picked) {
  std::lock_guard<std::mutex> lock(g_mutex);
  picks()[key_of(s)] = picked;
}

void forget_conv_algos() {
  std::lock_guard<std::mutex> lock(g_mutex);
  picks().clear();
}

}  // namespace cxr
