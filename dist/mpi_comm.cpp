// The MPI communicator (built only with CXR_MPI): Open MPI underneath, MPI_COMM_WORLD over the job.
#ifdef CXR_WITH_MPI
#include <malloc.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "dist/comm.h"

namespace cxr::dist {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(str(what, " failed: ", std::string(msg, static_cast<size_t>(len))));
}

// MPI counts are int: a longer buffer goes in pieces of at most 2^30 elements.
constexpr int64_t kMaxCount = int64_t{1} << 30;

class MpiRequest final : public Request {
 public:
  std::vector<MPI_Request> reqs;
  bool test() override {
    int done = 0;
    check(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    return done != 0;
  }
  void wait() override {
    check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  }
};

class MpiComm final : public Comm {
 public:
  MpiComm() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &on_node_);
    MPI_Comm_free(&node);
    // Errors come back as codes (turned into cxr::Error), not as an abort inside MPI with its own message.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int ranks_on_node() const override { return on_node_; }

  void allreduce_sum(float* x, int64_t n) override { reduce(x, n, MPI_FLOAT); }
  void allreduce_sum(double* x, int64_t n) override { reduce(x, n, MPI_DOUBLE); }

  std::unique_ptr<Request> iallreduce_sum(float* x, int64_t n) override {
    auto r = std::make_unique<MpiRequest>();
    for (int64_t i = 0; i < n; i += kMaxCount) {
      r->reqs.emplace_back();
      check(MPI_Iallreduce(MPI_IN_PLACE, x + i, static_cast<int>(std::min(kMaxCount, n - i)), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &r->reqs.back()),
            "MPI_Iallreduce");
    }
    return r;
  }

  void broadcast(std::string& s, int root) override {
    int64_t n = static_cast<int64_t>(s.size());
    check(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    s.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i += kMaxCount)
      check(MPI_Bcast(s.data() + i, static_cast<int>(std::min(kMaxCount, n - i)), MPI_CHAR, root, MPI_COMM_WORLD),
            "MPI_Bcast");
  }

  std::vector<std::string> gather(const std::string& s) override {
    const int64_t n = static_cast<int64_t>(s.size());
    CXR_CHECK(n < kMaxCount, "gather: ", n, " bytes from one rank is more than MPI's count allows");
    std::vector<int> counts(static_cast<size_t>(size_));
    const int c = static_cast<int>(n);
    check(MPI_Gather(&c, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
    std::vector<int> offsets(counts.size(), 0);
    int64_t total = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      offsets[i] = static_cast<int>(total);
      total += counts[i];
    }
    CXR_CHECK(rank_ != 0 || total < kMaxCount, "gather: ", total, " bytes in all is more than MPI's count allows");
    std::string all(rank_ == 0 ? static_cast<size_t>(total) : 0, '\0');
    check(MPI_Gatherv(s.data(), c, MPI_CHAR, all.data(), counts.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    std::vector<std::string> out;
    if (rank_ == 0)
      for (size_t i = 0; i < counts.size(); ++i) out.push_back(all.substr(static_cast<size_t>(offsets[i]),
                                                                         static_cast<size_t>(counts[i])));
    return out;
  }

  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // not reached
  }

 private:
  void reduce(void* x, int64_t n, MPI_Datatype t) {
    const size_t elem = t == MPI_FLOAT ? sizeof(float) : sizeof(double);
    for (int64_t i = 0; i < n; i += kMaxCount)
      check(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(x) + i * elem, static_cast<int>(std::min(kMaxCount, n - i)),
                          t, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
  }
  int rank_ = 0, size_ = 1, on_node_ = 1;
};

}  // namespace

bool built_with_mpi() { return true; }

std::string description() {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0, major = 0, minor = 0;
  MPI_Get_library_version(lib, &len);
  MPI_Get_version(&major, &minor);
  std::string s(lib, static_cast<size_t>(len));
  s = s.substr(0, s.find(','));  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return str(s, " (MPI ", major, ".", minor, ")");
}

std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv) {
  // Open MPI's reductions take scratch buffers from malloc, as large as each reduction (a bucket, a few MB)
  // and freed at its end. By default glibc gives such blocks back to the kernel (trimming the heap, or
  // munmap), so every step faults them in again: for full VGG-16 (537 MB of gradients a step) that cost
  // 1.8 s of a 7.3 s step on 2 ranks here (median steps: 5.5 s with this). Blocks up to 32 MB therefore come
  // from the heap, and up to 1 GiB of free heap is kept: the pieces of the 411 MB layer's reduction are in
  // flight together, each with its scratch buffer, and freed together (with 256 MB kept the step took 7.0 s).
  // cxr's own tensors have their cache (core/allocator.h).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  return std::make_unique<MpiComm>();
}

void finalize_mpi() {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) MPI_Finalize();
}

}  // namespace cxr::dist
#endif  // CXR_WITH_MPI
