// dist/ and train/grad_reducer: the pieces of data parallelism that one process can check. The runs over
// several ranks are in test_distributed.cpp (mpirun).
#include <gtest/gtest.h>

#include <vector>

#include "autograd/ops.h"
#include "core/rng.h"
#include "dist/comm.h"
#include "gradcheck.h"
#include "train/grad_reducer.h"

using namespace cxr;
using cxr::testing::random_tensor;

TEST(Dist, SharesCoverTheItemsOnceAndDifferByAtMostOne) {
  for (int64_t n : {0, 1, 2, 7, 8, 16, 17})
    for (int size : {1, 2, 3, 5}) {
      int64_t next = 0, lo = n, hi = 0;
      for (int r = 0; r < size; ++r) {
        const dist::Range s = dist::share(n, r, size);
        EXPECT_EQ(s.begin, next) << n << " " << r << "/" << size;
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - lo, 1);
    }
  EXPECT_EQ(dist::share(7, 0, 2).size(), 4);  // the first n % size ranks take one more
  EXPECT_EQ(dist::share(7, 1, 2).size(), 3);
}

TEST(Dist, BatchSharesKeepEveryBatchWholeAndCoverTheItemsOnce) {
  for (int64_t n : {0, 1, 7, 8, 21, 33})
    for (int64_t batch : {1, 4, 8})
      for (int size : {1, 2, 3}) {
        int64_t next = 0;
        for (int r = 0; r < size; ++r) {
          const dist::Range s = dist::share_batches(n, batch, r, size);
          EXPECT_EQ(s.begin, next) << n << " " << batch << " " << r << "/" << size;
          EXPECT_TRUE(s.begin % batch == 0 || s.size() == 0);  // starts on a batch boundary (or is empty)
          EXPECT_TRUE(s.end == n || s.end % batch == 0);      // ends on one, or at the end
          next = s.end;
        }
        EXPECT_EQ(next, n);
      }
  // 21 images in batches of 4 (6 batches) over 2 ranks: 3 batches each, 12 + 9 images.
  EXPECT_EQ(dist::share_batches(21, 4, 0, 2).size(), 12);
  EXPECT_EQ(dist::share_batches(21, 4, 1, 2).size(), 9);
  // Fewer batches than ranks: the last rank gets none.
  EXPECT_EQ(dist::share_batches(5, 4, 2, 3).size(), 0);
}

TEST(Dist, OneProcessWorldIsRankZeroOfOne) {
  dist::Comm& c = dist::world();
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  double x[2] = {1.5, -2};
  c.allreduce_sum(x, 2);
  EXPECT_EQ(x[0], 1.5);
  EXPECT_EQ(c.gather("abc"), std::vector<std::string>{"abc"});
}

namespace {

// Stands for a job of `ranks` identical ranks: a sum over them is the value times `ranks`. Records the
// size of every reduction, in the order they start.
class CopiesComm final : public dist::Comm {
 public:
  explicit CopiesComm(int ranks) : ranks_(ranks) {}
  struct Req : dist::Request {
    float* x;
    int64_t n;
    int ranks;
    bool done = false;
    bool test() override { return done; }
    void wait() override {
      if (!done)
        for (int64_t i = 0; i < n; ++i) x[i] *= static_cast<float>(ranks);
      done = true;
    }
  };
  int rank() const override { return 0; }
  int size() const override { return ranks_; }
  int ranks_on_node() const override { return ranks_; }
  void allreduce_sum(float* x, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) x[i] *= static_cast<float>(ranks_);
  }
  void allreduce_sum(double* x, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) x[i] *= ranks_;
  }
  std::unique_ptr<dist::Request> iallreduce_sum(float* x, int64_t n) override {
    started.push_back(n);
    auto r = std::make_unique<Req>();
    r->x = x;
    r->n = n;
    r->ranks = ranks_;
    return r;
  }
  void broadcast(std::string&, int) override {}
  std::vector<std::string> gather(const std::string& s) override { return {s}; }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::vector<int64_t> started;

 private:
  int ranks_;
};

}  // namespace

// Two identical ranks, each with half the batch's loss: the reduced gradient is the one-process gradient.
// Buckets fill from the last parameter (backward's order) and start during backward.
TEST(GradReducer, SumsScaledGradientsInBucketsInBackwardOrder) {
  Rng rng(3);
  Variable w1(random_tensor({300}, rng), true), w2(random_tensor({300}, rng), true), w3(random_tensor({50}, rng), true);
  Tensor x = random_tensor({300}, rng);
  auto loss_of = [&] { return add(sum(mul(mul(w1, w2), Variable(x))), sum(mul(w3, w3))); };
  loss_of().backward();
  const Tensor g1 = w1.grad().clone(), g2 = w2.grad().clone(), g3 = w3.grad().clone();
  w1.zero_grad();
  w2.zero_grad();
  w3.zero_grad();

  CopiesComm comm(2);
  // A bucket takes parameters until it holds at least 1,201 bytes: w3 (the last parameter, 200 bytes) then
  // w2 (1,200) fill the first; w1 the second.
  GradReducer r(comm, {&w1, &w2, &w3}, 1201);
  ASSERT_EQ(r.buckets(), 2);
  EXPECT_EQ(r.bucket_bytes(0), 350 * 4);
  EXPECT_EQ(r.bucket_bytes(1), 300 * 4);
  r.begin();
  scale(loss_of(), 0.5f).backward();  // each rank's share of the loss
  EXPECT_EQ(comm.started.size(), 2u) << "every bucket starts as soon as its gradients are in, during backward";
  r.finish();
  for (int64_t i = 0; i < 300; ++i) {
    ASSERT_FLOAT_EQ(w1.grad()[i], g1[i]);
    ASSERT_FLOAT_EQ(w2.grad()[i], g2[i]);
  }
  for (int64_t i = 0; i < 50; ++i) ASSERT_FLOAT_EQ(w3.grad()[i], g3[i]);
}

// A parameter at least as large as a bucket is a bucket of its own, reduced in its gradient's own storage
// (no copy in and out of a bucket: VGG-16's first FC layer is 411 MB), reduced in pieces like every bucket,
// also when backward never reached it.
TEST(GradReducer, ReducesAParameterAsLargeAsABucketInItsOwnGradient) {
  Rng rng(5);
  Variable w1(random_tensor({300}, rng), true), w2(random_tensor({50}, rng), true), w3(random_tensor({400}, rng), true);
  Tensor x = random_tensor({300}, rng);
  auto loss_of = [&] { return add(sum(mul(w1, Variable(x))), sum(mul(w2, w2))); };  // w3 not reached
  loss_of().backward();
  const Tensor g1 = w1.grad().clone(), g2 = w2.grad().clone();
  w1.zero_grad();
  w2.zero_grad();
  CopiesComm comm(2);
  // w3 (1,600 bytes) and w1 (1,200) direct, w2 packed; every bucket reduced in pieces of 1,000 bytes.
  GradReducer r(comm, {&w1, &w2, &w3}, 1000, 1000);
  ASSERT_EQ(r.buckets(), 3);
  EXPECT_EQ(r.bucket_bytes(0), 400 * 4);
  EXPECT_EQ(r.bucket_bytes(1), 50 * 4);
  EXPECT_EQ(r.bucket_bytes(2), 300 * 4);
  r.begin();
  scale(loss_of(), 0.5f).backward();
  // w1's and w2's gradients are in, but w3's bucket comes first and backward never reaches w3: nothing
  // may start before it, or a rank that runs no backward (which starts them all in finish(), in order)
  // would pair its reductions with other ones.
  EXPECT_TRUE(comm.started.empty()) << "a bucket started before the buckets ahead of it";
  const float* w1_storage = w1.grad().data();
  r.finish();
  EXPECT_EQ(w1.grad().data(), w1_storage) << "reduced where backward left it";
  EXPECT_EQ(comm.started, (std::vector<int64_t>{250, 150, 50, 250, 50})) << "in bucket order, in pieces";
  for (int64_t i = 0; i < 300; ++i) ASSERT_FLOAT_EQ(w1.grad()[i], g1[i]);
  for (int64_t i = 0; i < 50; ++i) ASSERT_FLOAT_EQ(w2.grad()[i], g2[i]);
  ASSERT_TRUE(w3.has_grad());
  for (int64_t i = 0; i < 400; ++i) ASSERT_EQ(w3.grad()[i], 0.0f);
}

// A rank with no rows this step runs no backward: its buckets go out as zeros, and the step still ends.
TEST(GradReducer, WithoutBackwardContributesZeros) {
  Rng rng(4);
  Variable w(random_tensor({10}, rng), true);
  CopiesComm comm(2);
  GradReducer r(comm, {&w}, 1 << 20);
  r.begin();
  r.finish();
  ASSERT_TRUE(w.has_grad());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(w.grad()[i], 0.0f);
  EXPECT_EQ(comm.started.size(), 1u);
}
