// Element-wise layers: relu, dropout, flatten.
#pragma once
#include "autograd/variable.h"
#include "core/rng.h"

namespace cxr {

// relu(x) = max(x, 0). Backward keeps only a bit mask of where x > 0.
// In guided mode (explain: guided backpropagation) backward also zeroes negative incoming gradients.
// overwrite_input: write the result into x's storage when x.sole_owner() (else as without it). The caller
// promises not to read x again: what torchvision's ReLU(inplace=True) saves, one activation per layer.
Variable relu(const Variable& x, bool overwrite_input = false);
void set_guided_relu(bool on);  // thread-local switch read by relu's backward
bool guided_relu();

// Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p);
// identity when !training or p == 0. The mask of row i of x ([N, ...]) is drawn from
// Rng(k).fork(first_row + i), where k is one draw from rng: so a row's mask depends on its place in the whole
// batch, not on how the batch is split (a data-parallel rank that holds rows 8..15 passes first_row = 8 and
// draws the masks one process would for those rows).
Variable dropout(const Variable& x, float p, bool training, Rng& rng, int64_t first_row = 0);

// [N, ...] -> [N, prod(...)]
Variable flatten(const Variable& x);

}  // namespace cxr
