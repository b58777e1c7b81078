// The 13 convolutions of VGG-16 at 224x224 (all 3x3, stride 1, padding 1), shared by the benchmarks.
// As one matrix product per image (layers/conv2d.h): M = out channels, N = size*size, K = in channels * 9.
#pragma once
#include <cstdint>

namespace cxr::bench {

struct VggConv {
  const char* name;
  int64_t in, out, size;  // channels in and out, input = output height = width
  int64_t M() const { return out; }
  int64_t N() const { return size * size; }
  int64_t K() const { return in * 9; }
  double flops_per_image() const { return 2.0 * double(M()) * double(N()) * double(K()); }
};

inline constexpr VggConv kVgg16Convs[13] = {
    {"conv1_1", 3, 64, 224},    {"conv1_2", 64, 64, 224},   {"conv2_1", 64, 128, 112},  {"conv2_2", 128, 128, 112},
    {"conv3_1", 128, 256, 56},  {"conv3_2", 256, 256, 56},  {"conv3_3", 256, 256, 56},  {"conv4_1", 256, 512, 28},
    {"conv4_2", 512, 512, 28},  {"conv4_3", 512, 512, 28},  {"conv5_1", 512, 512, 14},  {"conv5_2", 512, 512, 14},
    {"conv5_3", 512, 512, 14},
};

}  // namespace cxr::bench
