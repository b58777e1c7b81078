// The layer modules: each registers its parameters and buffers under torchvision's names and forwards
// to its functional op. describe() prints the hyper-parameters the way PyTorch's repr does.
#include "layers/modules.h"

#include "core/init.h"

namespace cxr {

Conv2d::Conv2d(int in, int out, int kernel, int stride, int pad, bool has_bias, Rng& rng)
    : in_channels(in), out_channels(out), kernel(kernel), stride(stride), pad(pad) {
  CXR_CHECK(in > 0 && out > 0 && kernel > 0 && stride > 0 && pad >= 0, "Conv2d: bad sizes in=", in, " out=", out,
            " kernel=", kernel, " stride=", stride, " pad=", pad);
  Tensor w = Tensor::empty({out, in, kernel, kernel});
  kaiming_normal_fan_out_(w, rng);
  weight = Variable(w, true);
  register_parameter("weight", &weight);
  if (has_bias) {
    bias = Variable(Tensor::zeros({out}), true);
    register_parameter("bias", &bias);
  }
}

Variable Conv2d::forward(const Variable& x) {
  Conv2dOptions opt;
  opt.stride_h = opt.stride_w = stride;
  opt.pad_h = opt.pad_w = pad;
  return conv2d(x, weight, bias, opt);
}

std::string Conv2d::describe() const {
  return str("Conv2d(", in_channels, ", ", out_channels, ", kernel_size=(", kernel, ", ", kernel, "), stride=(",
             stride, ", ", stride, "), padding=(", pad, ", ", pad, ")", bias.defined() ? "" : ", bias=False", ")");
}

Linear::Linear(int in, int out, Rng& rng) : in_features(in), out_features(out) {
  CXR_CHECK(in > 0 && out > 0, "Linear: bad sizes in=", in, " out=", out);
  Tensor w = Tensor::empty({out, in});
  normal_(w, 0.0f, 0.01f, rng);
  weight = Variable(w, true);
  bias = Variable(Tensor::zeros({out}), true);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Variable Linear::forward(const Variable& x) { return linear(x, weight, bias); }

std::string Linear::describe() const {
  return str("Linear(in_features=", in_features, ", out_features=", out_features, ", bias=True)");
}

BatchNorm2d::BatchNorm2d(int channels, float momentum, float eps) : channels(channels), momentum(momentum), eps(eps) {
  CXR_CHECK(channels > 0, "BatchNorm2d: bad channel count ", channels);
  weight = Variable(Tensor::full({channels}, 1.0f), true);
  bias = Variable(Tensor::zeros({channels}), true);
  state.running_mean = Tensor::zeros({channels});
  state.running_var = Tensor::full({channels}, 1.0f);
  num_batches_tracked = Tensor::zeros({1});
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &state.running_mean);
  register_buffer("running_var", &state.running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

Variable BatchNorm2d::forward(const Variable& x) {
  // The float buffer is what checkpoints read and write; the integer in state is what the op counts with.
  CXR_CHECK(num_batches_tracked.numel() == 1, "BatchNorm2d: num_batches_tracked must hold one value, got ",
            to_string(num_batches_tracked.shape()));
  state.num_batches_tracked = static_cast<int64_t>(num_batches_tracked[0]);
  Variable y = batch_norm2d(x, weight, bias, state, is_training(), momentum, eps, sync);
  num_batches_tracked[0] = static_cast<float>(state.num_batches_tracked);
  return y;
}

std::string BatchNorm2d::describe() const {
  return str("BatchNorm2d(", channels, ", eps=", eps, ", momentum=", momentum,
             ", affine=True, track_running_stats=True)");
}

std::string MaxPool2d::describe() const {
  return str("MaxPool2d(kernel_size=", kernel, ", stride=", stride, ", padding=0, dilation=1, ceil_mode=False)");
}

std::string AdaptiveAvgPool2d::describe() const {
  return str("AdaptiveAvgPool2d(output_size=(", out_h, ", ", out_w, "))");
}

std::string Dropout::describe() const { return str("Dropout(p=", p, ", inplace=False)"); }

}  // namespace cxr
