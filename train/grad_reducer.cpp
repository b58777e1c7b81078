#include "train/grad_reducer.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace cxr {

struct GradReducer::State {
  struct Bucket {
    std::vector<size_t> params;     // indices into State::params
    std::vector<int64_t> offsets;   // of each in `flat`
    std::vector<float> flat;
    int pending = 0;                // gradients not yet copied in this step
    std::unique_ptr<dist::Request> request;
  };
  dist::Comm* comm = nullptr;
  std::vector<Variable*> params;
  std::vector<size_t> bucket_of;    // per parameter
  std::vector<bool> got;            // per parameter: its gradient is in this step
  std::vector<Bucket> buckets;
  bool active = false;              // between begin() and finish()
  double wait_seconds = 0;

  void start(Bucket& b) { b.request = comm->iallreduce_sum(b.flat.data(), static_cast<int64_t>(b.flat.size())); }

  void on_grad(size_t i, const Tensor& g) {
    if (!active || got[i]) return;
    got[i] = true;
    Bucket& b = buckets[bucket_of[i]];
    const size_t k = std::find(b.params.begin(), b.params.end(), i) - b.params.begin();
    const float* src = g.data();
    float* dst = b.flat.data() + b.offsets[k];
    std::copy_n(src, g.numel(), dst);
    if (--b.pending == 0) start(b);
    for (auto& other : buckets)  // drive the reductions in flight
      if (other.request) other.request->test();
  }
};

GradReducer::GradReducer(dist::Comm& comm, std::vector<Variable*> params, int64_t bucket_bytes)
    : st_(std::make_shared<State>()) {
  st_->comm = &comm;
  st_->params = std::move(params);
  const size_t n = st_->params.size();
  st_->bucket_of.assign(n, 0);
  st_->got.assign(n, false);
  // Backward completes the gradients from the last parameter to the first: fill buckets in that order.
  for (size_t k = n; k-- > 0;) {
    const int64_t numel = st_->params[k]->numel();
    if (st_->buckets.empty() ||
        static_cast<int64_t>(st_->buckets.back().flat.size() * sizeof(float)) >= bucket_bytes)
      st_->buckets.emplace_back();
    auto& b = st_->buckets.back();
    b.params.push_back(k);
    b.offsets.push_back(static_cast<int64_t>(b.flat.size()));
    b.flat.resize(b.flat.size() + static_cast<size_t>(numel));
    st_->bucket_of[k] = st_->buckets.size() - 1;
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
  for (auto& b : s.buckets) {
    if (b.request) continue;
    for (size_t k = 0; k < b.params.size(); ++k)
      if (!s.got[b.params[k]]) {
        const Variable* p = s.params[b.params[k]];
        const Tensor& held = p->grad();
        if (held.defined())
          std::copy_n(held.data(), held.numel(), b.flat.begin() + b.offsets[k]);
        else
          std::fill_n(b.flat.begin() + b.offsets[k], p->numel(), 0.0f);
      }
    s.start(b);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : s.buckets) {
    b.request->wait();
    b.request.reset();
  }
  s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& b : s.buckets)
    for (size_t k = 0; k < b.params.size(); ++k) {
      Variable* p = s.params[b.params[k]];
      Tensor g = Tensor::empty(p->shape());
      std::copy_n(b.flat.data() + b.offsets[k], p->numel(), g.data());
      p->grad() = std::move(g);
    }
  s.active = false;
}

int GradReducer::buckets() const { return static_cast<int>(st_->buckets.size()); }
int64_t GradReducer::bucket_bytes(int i) const {
  return static_cast<int64_t>(st_->buckets[static_cast<size_t>(i)].flat.size() * sizeof(float));
}
double GradReducer::take_wait_seconds() {
  const double w = st_->wait_seconds;
  st_->wait_seconds = 0;
  return w;
}

}  // namespace cxr
