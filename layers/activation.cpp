// relu, dropout, flatten. relu and dropout remember only a bit mask for backward (one bit per element
// instead of a saved float tensor: 32x less memory on VGG's large activations).
#include "layers/activation.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/ops.h"

namespace cxr {

namespace {

// One bit per element, 64 to a word. Words are filled and read whole by one thread each, so parallel
// loops over words never share a word.
using BitMask = std::vector<uint64_t>;

inline bool bit(const BitMask& m, int64_t i) { return (m[static_cast<size_t>(i >> 6)] >> (i & 63)) & 1u; }

constexpr int64_t kParallelMin = 1 << 15;  // below this many elements a parallel loop costs more than it saves

void check_nonempty(const Variable& x, const char* what) {
  CXR_CHECK(x.defined(), what, ": undefined input");
  CXR_CHECK(x.numel() > 0, what, ": empty input ", to_string(x.shape()));
}

thread_local bool t_guided = false;

}  // namespace

void set_guided_relu(bool on) { t_guided = on; }
bool guided_relu() { return t_guided; }

Variable relu(const Variable& x, bool overwrite_input) {
  check_nonempty(x, "relu");
  const int64_t n = x.numel();
  const int64_t words = (n + 63) / 64;
  // In place, y[i] is written after x[i] is read, by the same thread: the loop below is safe as it is.
  Tensor y = overwrite_input && x.sole_owner() ? x.data() : Tensor::empty(x.shape());
  auto mask = std::make_shared<BitMask>(static_cast<size_t>(words));
  const float* px = x.data().data();
  float* py = y.data();
  uint64_t* pm = mask->data();
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t w = 0; w < words; ++w) {
    uint64_t bits = 0;
    const int64_t end = std::min<int64_t>(n, (w + 1) * 64);
    for (int64_t i = w * 64; i < end; ++i) {
      // NaN passes through, forward and backward, as in PyTorch (whose backward zeroes the gradient only
      // where the output is <= 0): a diverged network must not be silently turned into zeros.
      const bool pass = px[i] > 0.0f || px[i] != px[i];
      py[i] = pass ? px[i] : 0.0f;
      bits |= static_cast<uint64_t>(pass) << (i & 63);
    }
    pm[w] = bits;
  }
  return Variable::make(y, {x}, [mask, n](const Tensor& g, std::vector<Variable>& in) {
    // Guided backpropagation (Springenberg et al.): pass a gradient only where the input was positive
    // AND the gradient itself is positive. Read at backward time: explain switches it around backward().
    const bool guided = guided_relu();
    Tensor dx = Tensor::empty(g.shape());
    const float* pg = g.data();
    float* pd = dx.data();
    const uint64_t* pm = mask->data();
    const int64_t words = static_cast<int64_t>(mask->size());
    // A word of the mask at a time, split into two 32-bit halves: the inner loops have a fixed length and
    // one shift per lane, so the compiler vectorises them (a bit read per element was 15% of a w0.25
    // training step).
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t w = 0; w < words; ++w) {
      const int64_t base = w * 64;
      const uint64_t bits = pm[w];
      if (base + 64 <= n && !guided) {
        for (int h = 0; h < 2; ++h) {
          const uint32_t b = static_cast<uint32_t>(bits >> (32 * h));
          const float* src = pg + base + 32 * h;
          float* dst = pd + base + 32 * h;
          for (int j = 0; j < 32; ++j) dst[j] = ((b >> j) & 1u) ? src[j] : 0.0f;
        }
      } else {  // the last, partial word, or guided backpropagation
        for (int64_t i = base; i < std::min<int64_t>(n, base + 64); ++i) {
          const bool pass = ((bits >> (i - base)) & 1u) && (!guided || pg[i] > 0.0f);
          pd[i] = pass ? pg[i] : 0.0f;
        }
      }
    }
    in[0].accumulate_grad(dx);
  }, "relu", Saved{{}, mask->size() * sizeof(uint64_t)});
}

Variable dropout(const Variable& x, float p, bool training, Rng& rng, int64_t first_row) {
  check_nonempty(x, "dropout");
  CXR_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability ", p, " is not in [0, 1]");
  if (!training || p == 0.0f) return x;
  const int64_t n = x.numel(), rows = x.size(0), per_row = n / rows;
  // Keep each element with probability 1 - p, drawn in order within its row from the row's own generator,
  // so a seed fixes the mask whatever the thread count or the split of the batch. Kept values are scaled
  // by 1/(1-p) now so that inference needs no rescaling.
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  auto mask = std::make_shared<BitMask>(static_cast<size_t>((n + 63) / 64), 0);
  const Rng base(rng.next_u64());
  for (int64_t r = 0; r < rows; ++r) {
    Rng row = base.fork(static_cast<uint64_t>(first_row + r));
    for (int64_t i = r * per_row; i < (r + 1) * per_row; ++i)
      if (!row.bernoulli(p)) (*mask)[static_cast<size_t>(i >> 6)] |= uint64_t{1} << (i & 63);
  }
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data().data();
  float* py = y.data();
  const BitMask& m = *mask;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) py[i] = bit(m, i) ? px[i] * scale : 0.0f;
  return Variable::make(y, {x}, [mask, n, scale](const Tensor& g, std::vector<Variable>& in) {
    Tensor dx = Tensor::empty(g.shape());
    const float* pg = g.data();
    float* pd = dx.data();
    const BitMask& m = *mask;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) pd[i] = bit(m, i) ? pg[i] * scale : 0.0f;
    in[0].accumulate_grad(dx);
  }, "dropout", Saved{{}, mask->size() * sizeof(uint64_t)});
}

Variable flatten(const Variable& x) {
  check_nonempty(x, "flatten");
  CXR_CHECK(x.data().dim() >= 2, "flatten: input must be [N, ...] with at least 2 dimensions, got ",
            to_string(x.shape()));
  return reshape(x, {x.size(0), x.numel() / x.size(0)});
}

}  // namespace cxr
