#include "train/grad_reducer.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace cxr {

struct GradReducer::State {
  // A bucket is either several parameters' gradients packed into `flat`, or one parameter at least as large
  // as a bucket, reduced in place in its own gradient tensor (`direct`): packing 411 MB (VGG-16's first
  // fully connected layer) would only add two passes over it. Every bucket is reduced in pieces (State::
  // piece): Open MPI allocates a scratch buffer the size of each reduction, and one of 411 MB is a fresh
  // mmap every step, whose first touch (page faults) cost more than the transfer itself here; pieces of a
  // few MB come from malloc's heap again and again.
  struct Bucket {
    std::vector<size_t> params;     // indices into State::params
    std::vector<int64_t> offsets;   // of each in `flat`
    std::vector<float> flat;
    bool direct = false;            // one parameter, reduced in its gradient's own storage
    int pending = 0;                // gradients not yet in this step
    std::vector<std::unique_ptr<dist::Request>> requests;  // in flight (empty: not started this step)
  };
  dist::Comm* comm = nullptr;
  std::vector<Variable*> params;
  std::vector<size_t> bucket_of;    // per parameter
  std::vector<bool> got;            // per parameter: its gradient is in this step
  std::vector<Bucket> buckets;
  bool active = false;              // between begin() and finish()
  double wait_seconds = 0;
  int64_t piece = 0;                // floats per reduction: buckets are reduced in pieces of at most this
  size_t next_start = 0;            // buckets start in index order on every rank, as MPI requires

  // A direct bucket's gradient, made a tensor of its own (the sum is written into it) or zeros when the
  // backward never reached it.
  float* own_grad(Variable* p) {
    Tensor& g = p->grad();
    if (!g.defined()) {
      g = Tensor::zeros(p->shape());
    } else if (!g.storage_unique()) {
      Tensor copy = Tensor::empty(g.shape());
      std::copy_n(g.data(), g.numel(), copy.data());
      g = std::move(copy);
    }
    return g.data();
  }

  void start(Bucket& b) {
    float* x = b.direct ? own_grad(params[b.params[0]]) : b.flat.data();
    const int64_t n = b.direct ? params[b.params[0]]->numel() : static_cast<int64_t>(b.flat.size());
    for (int64_t at = 0; at < n; at += piece) b.requests.push_back(comm->iallreduce_sum(x + at, std::min(piece, n - at)));
  }

  // Starts the buckets whose gradients are all in, in index order: a bucket waits for the ones before it,
  // so every rank issues its reductions in the same order whatever order backward completes gradients in
  // (a rank without a backward starts them all in finish(), in index order).
  void start_ready() {
    while (next_start < buckets.size() && buckets[next_start].pending == 0) start(buckets[next_start++]);
  }

  void on_grad(size_t i, const Tensor& g) {
    if (!active || got[i]) return;
    got[i] = true;
    Bucket& b = buckets[bucket_of[i]];
    if (!b.direct) {
      const size_t k = std::find(b.params.begin(), b.params.end(), i) - b.params.begin();
      std::copy_n(g.data(), g.numel(), b.flat.data() + b.offsets[k]);
    }
    --b.pending;
    start_ready();
    for (auto& other : buckets)  // drive the reductions in flight
      for (auto& r : other.requests) r->test();
  }
};

GradReducer::GradReducer(dist::Comm& comm, std::vector<Variable*> params, int64_t bucket_bytes, int64_t piece_bytes)
    : st_(std::make_shared<State>()) {
  CXR_ASSERT(bucket_bytes > 0 && piece_bytes > 0, "GradReducer: bucket ", bucket_bytes, ", piece ", piece_bytes);
  st_->comm = &comm;
  st_->params = std::move(params);
  const size_t n = st_->params.size();
  st_->bucket_of.assign(n, 0);
  st_->got.assign(n, false);
  st_->piece = std::max<int64_t>(1, piece_bytes / static_cast<int64_t>(sizeof(float)));
  // Backward completes the gradients from the last parameter to the first: fill buckets in that order.
  for (size_t k = n; k-- > 0;) {
    const int64_t numel = st_->params[k]->numel();
    auto& all = st_->buckets;
    if (numel * static_cast<int64_t>(sizeof(float)) >= bucket_bytes) {
      all.emplace_back();
      all.back().direct = true;
    } else if (all.empty() || all.back().direct ||
               static_cast<int64_t>(all.back().flat.size() * sizeof(float)) >= bucket_bytes) {
      all.emplace_back();
    }
    auto& b = all.back();
    b.params.push_back(k);
    if (!b.direct) {
      b.offsets.push_back(static_cast<int64_t>(b.flat.size()));
      b.flat.resize(b.flat.size() + static_cast<size_t>(numel));
    }
    st_->bucket_of[k] = all.size() - 1;
  }
  std::weak_ptr<State> weak = st_;
  for (size_t k = 0; k < n; ++k)
    st_->params[k]->register_hook([weak, k](const Tensor& g) {
      if (auto s = weak.lock()) s->on_grad(k, g);
    });
}

GradReducer::~GradReducer() = default;

void GradReducer::begin() {
  State& s = *st_;
  CXR_ASSERT(!s.active, "GradReducer::begin twice without finish");
  s.active = true;
  s.next_start = 0;
  std::fill(s.got.begin(), s.got.end(), false);
  for (auto& b : s.buckets) b.pending = static_cast<int>(b.params.size());
}

void GradReducer::finish() {
  State& s = *st_;
  CXR_ASSERT(s.active, "GradReducer::finish without begin");
  // Gradients this backward did not reach (no backward: no rows on this rank in the step's last batch; a
  // parameter the loss does not depend on) count as what the parameter holds from the step's earlier
  // batches (--accumulate), else zero; buckets start in the same order on every rank, as MPI's collectives
  // require.
  for (; s.next_start < s.buckets.size(); ++s.next_start) {
    State::Bucket& b = s.buckets[s.next_start];
    for (size_t k = 0; k < b.params.size() && !b.direct; ++k)
      if (!s.got[b.params[k]]) {
        const Variable* p = s.params[b.params[k]];
        const Tensor& held = p->grad();
        if (held.defined())
          std::copy_n(held.data(), held.numel(), b.flat.begin() + b.offsets[k]);
        else
          std::fill_n(b.flat.begin() + b.offsets[k], p->numel(), 0.0f);
      }
    s.start(b);  // a direct bucket reduces the parameter's held gradient, or zeros (State::own_grad)
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : s.buckets) {
    for (auto& r : b.requests) r->wait();
    b.requests.clear();
  }
  s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& b : s.buckets) {
    if (b.direct) continue;  // the sum is already in the gradient
    for (size_t k = 0; k < b.params.size(); ++k) {
      Variable* p = s.params[b.params[k]];
      Tensor g = Tensor::empty(p->shape());
      std::copy_n(b.flat.data() + b.offsets[k], p->numel(), g.data());
      p->grad() = std::move(g);
    }
  }
  s.active = false;
}

int GradReducer::buckets() const { return static_cast<int>(st_->buckets.size()); }
int64_t GradReducer::bucket_bytes(int i) const {
  const auto& b = st_->buckets[static_cast<size_t>(i)];
  return b.direct ? st_->params[b.params[0]]->numel() * static_cast<int64_t>(sizeof(float))
                  : static_cast<int64_t>(b.flat.size() * sizeof(float));
}
double GradReducer::take_wait_seconds() {
  const double w = st_->wait_seconds;
  st_->wait_seconds = 0;
  return w;
}

}  // namespace cxr
