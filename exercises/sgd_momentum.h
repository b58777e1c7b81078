// Exercise 6 (docs/EXERCISES.md, two stars): one SGD-with-momentum step, as PyTorch takes it.
#pragma once
#include "core/tensor.h"

namespace cxr::exercises {

// Updates parameter p in place from its gradient, with torch.optim.SGD(lr, momentum, weight_decay)'s rule
// (dampening 0, no Nesterov). buf is the momentum buffer: undefined (Tensor()) before the first step, then
// whatever this function left there; create it on the first step. The grader runs three steps of a small
// VGG-style network with it and compares every parameter and buffer with what PyTorch computed
// (tests/fixtures/parity.bin), and one scalar case by hand.
void sgd_momentum_step(Tensor& p, const Tensor& grad, Tensor& buf, float lr, float momentum, float weight_decay);

}  // namespace cxr::exercises
