#include "autograd/ops.h"

namespace cxr {

template <typename F>
static Tensor map2(const Tensor& a, const Tensor& b, F f, const char* what) {
  check_same_shape(a, b, what);
  Tensor out = Tensor::empty(a.shape());
  const float *pa = a.data(), *pb = b.data();
  float* po = out.data();
  for (int64_t i = 0; i < out.numel(); ++i) po[i] = f(pa[i], pb[i]);
  return out;
}

static Tensor scaled(const Tensor& t, float s) {
  Tensor out = Tensor::empty(t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = s * t[i];
  return out;
}

Variable add(const Variable& a, const Variable& b) {
  Tensor out = map2(a.data(), b.data(), [](float x, float y) { return x + y; }, "add");
  return Variable::make(out, {a, b}, [](const Tensor& g, std::vector<Variable>& in) {
    for (auto& v : in) if (v.requires_grad()) v.accumulate_grad(g);
  }, "add");
}

Variable sub(const Variable& a, const Variable& b) {
  Tensor out = map2(a.data(), b.data(), [](float x, float y) { return x - y; }, "sub");
  return Variable::make(out, {a, b}, [](const Tensor& g, std::vector<Variable>& in) {
    if (in[0].requires_grad()) in[0].accumulate_grad(g);
    if (in[1].requires_grad()) in[1].accumulate_grad(scaled(g, -1.0f));
  }, "sub");
}

Variable mul(const Variable& a, const Variable& b) {
  Tensor out = map2(a.data(), b.data(), [](float x, float y) { return x * y; }, "mul");
  // Backward needs both operands: d(a*b)/da = b, d(a*b)/db = a.
  Tensor ta = a.data(), tb = b.data();
  return Variable::make(out, {a, b}, [ta, tb](const Tensor& g, std::vector<Variable>& in) {
    if (in[0].requires_grad()) in[0].accumulate_grad(map2(g, tb, [](float x, float y) { return x * y; }, "mul"));
    if (in[1].requires_grad()) in[1].accumulate_grad(map2(g, ta, [](float x, float y) { return x * y; }, "mul"));
  }, "mul", Saved{{ta, tb}});
}

Variable scale(const Variable& a, float s) {
  return Variable::make(scaled(a.data(), s), {a}, [s](const Tensor& g, std::vector<Variable>& in) {
    in[0].accumulate_grad(scaled(g, s));
  }, "scale");
}

Variable sum(const Variable& a) {
  double acc = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) acc += a.data()[i];
  Shape shape = a.shape();
  return Variable::make(Tensor::full({}, static_cast<float>(acc)), {a},
                        [shape](const Tensor& g, std::vector<Variable>& in) {
                          in[0].accumulate_grad(Tensor::full(shape, g.item()));
                        }, "sum");
}

Variable mean(const Variable& a) {
  CXR_CHECK(a.numel() > 0, "mean of an empty tensor ", to_string(a.shape()));
  return scale(sum(a), 1.0f / static_cast<float>(a.numel()));
}

Variable reshape(const Variable& a, const Shape& shape) {
  Shape in_shape = a.shape();
  return Variable::make(a.data().reshape(shape), {a}, [in_shape](const Tensor& g, std::vector<Variable>& in) {
    in[0].accumulate_grad(g.reshape(in_shape));
  }, "reshape");
}

Variable select_column(const Variable& a, int64_t index) {
  check_dims(a.data(), 2, "select_column");
  int64_t n = a.size(0), k = a.size(1);
  CXR_CHECK(index >= 0 && index < k, "select_column: column ", index, " out of range for ", to_string(a.shape()));
  Tensor out = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) out[i] = a.data()[i * k + index];
  return Variable::make(out, {a}, [n, k, index](const Tensor& g, std::vector<Variable>& in) {
    Tensor gi = Tensor::zeros({n, k});
    for (int64_t i = 0; i < n; ++i) gi[i * k + index] = g[i];
    in[0].accumulate_grad(gi);
  }, "select_column");
}

}  // namespace cxr
