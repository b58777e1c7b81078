// Which algorithm conv2d uses for a convolution: im2col + SGEMM (layers/im2col.h, the reference, every shape)
// or Winograd F(2x2, 3x3) (layers/winograd.h: 3x3 kernels, stride 1, padding 1 only). `--conv` on every
// command that runs a model sets the process-wide choice (docs/WINOGRAD.md has the measurements):
//   im2col    everywhere (the default)
//   winograd  where it applies and pays: 3x3, stride 1, padding 1, at least kWinogradMinChannels input
//             channels (VGG's first layer, 1 or 3 channels, has a product too thin to gain from it)
//   automatic per layer shape, the faster of the two, timed on the first forward of that shape and
//             remembered for the process (cuDNN's benchmark mode); backward-data follows the forward's pick.
// Results of `automatic` may then differ between runs by the rounding of the algorithm picked.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

enum class ConvAlgo { im2col, winograd, automatic };

ConvAlgo parse_conv_algo(const std::string& name);  // "auto" | "im2col" | "winograd", any case; else cxr::Error
const char* conv_algo_name(ConvAlgo a);             // "auto", "im2col", "winograd"
std::vector<std::string> conv_algo_names();

void set_conv_algo(ConvAlgo a);  // process-wide (--conv); conv2d's Conv2dOptions::algo overrides it per call
ConvAlgo conv_algo();

// Fewer input channels than this: `winograd` and `automatic` keep im2col (docs/WINOGRAD.md, "conv1_1").
constexpr int64_t kWinogradMinChannels = 16;

// One convolution's shape, as the choice sees it.
struct ConvShape {
  int64_t N, C, H, W, K;
  int64_t kh, kw, sh, sw, ph, pw;
  bool winograd_applicable() const { return kh == 3 && kw == 3 && sh == 1 && sw == 1 && ph == 1 && pw == 1; }
};

// What conv2d runs for `s` under the process-wide choice `a`: im2col or winograd, or automatic for a shape
// that automatic has not timed yet in this process (cxr summary prints it).
ConvAlgo resolve_conv_algo(ConvAlgo a, const ConvShape& s);

// automatic's cache, keyed by the shape and the thread count.
void remember_conv_algo(const ConvShape& s, ConvAlgo picked);
void forget_conv_algos();  // for tests and benchmarks

}  // namespace cxr
