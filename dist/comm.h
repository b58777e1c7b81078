// dist: the processes of one job and what they say to each other. The only module that talks MPI.
//
// Under `mpirun -np N cxr ...` every process (a "rank", 0 .. N-1) runs the same command; world() is then an
// MPI communicator over all of them. Run any other way, world() is the one-process communicator: rank 0 of
// 1, every reduction a no-op, so the rest of cxr has one code path and never includes <mpi.h>. A build
// without MPI (-DCXR_MPI=OFF) has only the one-process communicator.
//
// Threads: MPI is initialised with MPI_THREAD_FUNNELED. Only the main thread calls Comm (OpenMP workers and
// loader threads never do).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace cxr::dist {

// An error every rank throws at the same point with the same message (e.g. a count of failed images summed
// over the ranks): no rank waits for another, so the job need not be aborted. The CLI prints it once (rank 0)
// and every rank exits with 1. Any other error on one rank ends the whole job (Comm::abort).
struct AllRanksError : Error {
  using Error::Error;
};

// A reduction in flight (iallreduce_sum): test() drives it on (MPI progresses only inside MPI calls),
// wait() finishes it. The buffer it was given must stay alive and untouched until then.
class Request {
 public:
  virtual ~Request() = default;
  virtual bool test() = 0;  // true once complete
  virtual void wait() = 0;
};

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int ranks_on_node() const = 0;  // the processes of this job on this machine (MPI_Comm_split_type)
  bool is_root() const { return rank() == 0; }

  // In place: every rank ends with the element-wise sum over the ranks.
  virtual void allreduce_sum(float* x, int64_t n) = 0;
  virtual void allreduce_sum(double* x, int64_t n) = 0;
  virtual std::unique_ptr<Request> iallreduce_sum(float* x, int64_t n) = 0;
  virtual void broadcast(std::string& s, int root) = 0;  // every rank ends with root's s
  // Rank 0 gets every rank's string in rank order; the other ranks get an empty vector.
  virtual std::vector<std::string> gather(const std::string& s) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job (MPI_Abort): what an error on one rank must do, since the others would
  // otherwise wait for it in their next reduction forever.
  [[noreturn]] virtual void abort(int code) = 0;
};

// Sets up world(): MPI when this process was started by mpirun (Open MPI's OMPI_COMM_WORLD_SIZE or PMIx's
// PMIX_RANK in the environment) and cxr was built with MPI; else the one-process communicator.
// Call once, first thing in main; finalize() at exit (also registered with atexit).
void init(int* argc, char*** argv);
void finalize();
Comm& world();

bool built_with_mpi();
std::string description();  // "Open MPI 4.1.4 (MPI 3.1)" or "not built with MPI", for --version

// The contiguous share of n items (samples of a batch, files of a dataset) that `rank` of `size` takes:
// [begin, end). The first n % size ranks take one more, so shares differ by at most one and a rank may
// get none when n < size.
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Range share(int64_t n, int rank, int size);

// The share of n items processed in batches of `batch` that keeps one process's batches whole: the
// ceil(n / batch) batches are shared out as above, and `rank` takes the items of its batches. Each rank then
// computes exactly the batches one process computes (a GEMM over 8 rows rounds otherwise than over 4 + 4),
// so per-batch work under mpirun gives the bytes of one process (sharded eval, predict, explain, xai-eval).
Range share_batches(int64_t n, int64_t batch, int rank, int size);

}  // namespace cxr::dist
