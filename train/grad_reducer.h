// GradReducer: data parallelism's one collective. After backward, every rank's parameters must hold the
// gradient of the whole batch's loss, the sum over ranks of each rank's share (PyTorch DDP, Horovod).
//
// Buckets: the trainable parameters, in the order backward completes their gradients (the reverse of the
// forward: classifier first, conv1_1 last), are packed into buckets of about bucket_bytes. A hook on each
// parameter (autograd/variable.h: called once its gradient is complete) copies the gradient into its
// bucket's flat buffer; when the last gradient of a bucket is in (and the buckets before it have started:
// every rank must start them in the same order), its allreduce starts (non-blocking) while backward goes on
// with the layers below, and every later hook drives the reductions
// in flight (MPI makes progress only inside MPI calls). finish() starts what is left, waits for all and
// copies the sums back into the parameters' gradients. A parameter at least as large as a bucket (VGG-16's
// fully connected weights: 411, 67 and 12 MB) is a bucket of its own, reduced in place in its gradient's
// storage: packing it would only add two passes over it.
//
//   GradReducer r(world(), trainable_params, 4 << 20);
//   r.begin();
//   scale(loss, local_rows / global_rows).backward();   // this rank's share of the batch-mean loss;
//                                                       // buckets start on the way
//   r.finish();                          // every rank: the gradient of the whole batch
//   opt.step();
//
// A rank with no rows this step (a last batch smaller than the rank count) calls begin() and finish()
// without a backward: its buckets contribute zeros. With gradient accumulation (--accumulate K), begin()
// comes before the step's last backward: the earlier ones add into the parameters' gradients, and what a
// hook or finish() reduces is that sum. Bucket sizes: docs/DISTRIBUTED.md.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "autograd/variable.h"
#include "dist/comm.h"

namespace cxr {

class GradReducer {
 public:
  // params: the trainable parameters, in the model's order (forward order); they must outlive the reducer.
  // Each bucket is reduced in pieces of at most piece_bytes (Open MPI's scratch buffer per reduction is
  // as large as the reduction: pieces of a few MB come from malloc's heap, not a fresh mmap each step).
  GradReducer(dist::Comm& comm, std::vector<Variable*> params, int64_t bucket_bytes,
              int64_t piece_bytes = int64_t{4} << 20);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  void begin();
  void finish();

  int buckets() const;
  int64_t bucket_bytes(int i) const;
  // Seconds finish() spent waiting for reductions that backward had not hidden, summed since the last call.
  double take_wait_seconds();

 private:
  struct State;
  // Shared with the hooks, which stay registered on the parameters after the reducer is gone: they hold it
  // weakly and do nothing once it is destroyed, or between finish() and the next begin().
  std::shared_ptr<State> st_;
};

}  // namespace cxr
