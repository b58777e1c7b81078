// The layer modules VGG is built from, each a thin Module around its functional op, with the parameter
// names, shapes and default initialisation of torchvision's VGG (see core/init.h).
#pragma once
#include <memory>

#include "core/rng.h"
#include "layers/activation.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/module.h"
#include "layers/pool.h"

namespace cxr {

class Conv2d : public Module {
 public:
  // weight [out, in, k, k] Kaiming-normal fan_out; bias [out] zeros.
  Conv2d(int in, int out, int kernel, int stride, int pad, bool bias, Rng& rng);
  Variable forward(const Variable& x) override;
  std::string type() const override { return "Conv2d"; }
  std::string describe() const override;
  int in_channels, out_channels, kernel, stride, pad;
  Variable weight, bias;  // bias undefined when built without one
};

class Linear : public Module {
 public:
  // weight [out, in] normal(0, 0.01); bias [out] zeros.
  Linear(int in, int out, Rng& rng);
  Variable forward(const Variable& x) override;
  std::string type() const override { return "Linear"; }
  std::string describe() const override;
  int in_features, out_features;
  Variable weight, bias;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, float momentum = 0.1f, float eps = 1e-5f);  // weight 1, bias 0
  Variable forward(const Variable& x) override;
  std::string type() const override { return "BatchNorm2d"; }
  std::string describe() const override;
  int channels;
  float momentum, eps;
  Variable weight, bias;
  BatchNormState state;      // running_mean, running_var (buffers), num_batches_tracked
  Tensor num_batches_tracked;  // [1] float mirror of state.num_batches_tracked, for checkpoints
  ReplicaSum sync;             // set: synchronised over data-parallel replicas (layers/batchnorm.h)
};

// inplace (as torchvision's VGG builds it): the output overwrites the input when nothing else holds the
// input (Variable::sole_owner): in a Sequential the input is dropped at once, and batch-norm's or a
// convolution's output would otherwise stay alive for backward only as the ReLU's input. A forward hook
// or another consumer of the input keeps it whole.
class ReLU : public Module {
 public:
  explicit ReLU(bool inplace = false) : inplace(inplace) {}
  Variable forward(const Variable& x) override { return relu(x, inplace); }
  std::string type() const override { return "ReLU"; }
  std::string describe() const override { return inplace ? "ReLU(inplace=True)" : "ReLU()"; }
  bool inplace;
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int kernel, int stride) : kernel(kernel), stride(stride) {}
  Variable forward(const Variable& x) override { return max_pool2d(x, kernel, stride); }
  std::string type() const override { return "MaxPool2d"; }
  std::string describe() const override;
  int kernel, stride;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int out_h, int out_w) : out_h(out_h), out_w(out_w) {}
  Variable forward(const Variable& x) override { return adaptive_avg_pool2d(x, out_h, out_w); }
  std::string type() const override { return "AdaptiveAvgPool2d"; }
  std::string describe() const override;
  int out_h, out_w;
};

class Dropout : public Module {
 public:
  Dropout(float p, uint64_t seed) : p(p), rng(seed) {}
  Variable forward(const Variable& x) override { return dropout(x, p, is_training(), rng, first_row); }
  std::string type() const override { return "Dropout"; }
  std::string describe() const override;
  float p;
  Rng rng;
  int64_t first_row = 0;  // the row of x[0] in the whole batch (a data-parallel shard: layers/activation.h)
};

class Flatten : public Module {
 public:
  Variable forward(const Variable& x) override { return flatten(x); }
  std::string type() const override { return "Flatten"; }
};

}  // namespace cxr
