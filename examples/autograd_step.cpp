// The worked example of docs/AUTOGRAD.md: a two-layer network on one input, its forward, the gradients
// autograd computes, and one SGD step. Its output is the block that page shows (tests/test_examples.cpp
// compares them), so every number a student checks by hand is one this program printed.
//
//   cmake --build build --target example_autograd_step && ./build/examples/example_autograd_step
#include <cstdio>

#include "examples/print.h"
#include "layers/activation.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/optim.h"

using namespace cxr;
using cxr::examples::print;

int main() {
  Variable x(Tensor::from({1, 2}, {1, 2}));  // the input: no gradient
  Variable W1(Tensor::from({0.5f, -1, 1, 0.5f}, {2, 2}), true), b1(Tensor::zeros({2}), true);
  Variable W2(Tensor::from({1, -1, 0.5f, 1}, {2, 2}), true), b2(Tensor::zeros({2}), true);

  Variable z = linear(x, W1, b1);
  Variable h = relu(z);
  Variable logits = linear(h, W2, b2);
  Variable loss = cross_entropy(logits, {1});  // target class 1
  print("z", z.data());
  print("h", h.data());
  print("logits", logits.data());
  print("loss", loss.data());
  std::printf("ops: loss=%s logits=%s h=%s z=%s x.leaf=%d x.requires_grad=%d\n", loss.op(), logits.op(), h.op(),
              z.op(), x.is_leaf(), x.requires_grad());

  h.retain_grad();  // an intermediate value: its gradient would be freed once relu's closure used it
  loss.backward();
  print("dh", h.grad());
  std::printf("z has grad after backward: %d (freed)\n", z.has_grad());
  print("dW2", W2.grad());
  print("db2", b2.grad());
  print("dW1", W1.grad());
  print("db1", b1.grad());
  std::printf("x has grad: %d\n", x.has_grad());

  // One plain SGD step, p -= 0.1 * dp, on all four parameters (b1 and b2 move too).
  SGD sgd({{"W1", &W1}, {"b1", &b1}, {"W2", &W2}, {"b2", &b2}}, /*lr=*/0.1f);
  sgd.step();
  print("W1'", W1.data());
  print("b1'", b1.data());
  print("W2'", W2.data());
  print("b2'", b2.data());
  const Variable z2 = linear(x, W1, b1), logits2 = linear(relu(z2), W2, b2);
  print("z'", z2.data());
  print("logits'", logits2.data());
  print("loss'", cross_entropy(logits2, {1}).data());
  // The step a student gets who forgets the biases: same weights, biases still zero.
  const Variable zero(Tensor::zeros({2}));
  print("no-bias", cross_entropy(linear(relu(linear(x, W1, zero)), W2, zero), {1}).data());
}
