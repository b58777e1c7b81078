#include "dist/comm.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace cxr::dist {

namespace {

class LocalRequest final : public Request {
 public:
  bool test() override { return true; }
  void wait() override {}
};

// The one-process communicator: a sum over one rank is the value itself.
class LocalComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int ranks_on_node() const override { return 1; }
  void allreduce_sum(float*, int64_t) override {}
  void allreduce_sum(double*, int64_t) override {}
  std::unique_ptr<Request> iallreduce_sum(float*, int64_t) override { return std::make_unique<LocalRequest>(); }
  void broadcast(std::string&, int) override {}
  std::vector<std::string> gather(const std::string& s) override { return {s}; }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

std::unique_ptr<Comm>& slot() {
  static std::unique_ptr<Comm> c;
  return c;
}

}  // namespace

// Defined in mpi_comm.cpp when built with MPI, else below.
std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv);
void finalize_mpi();

bool started_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

void init(int* argc, char*** argv) {
  if (slot()) return;
  if (built_with_mpi() && started_by_mpirun()) slot() = make_mpi_comm(argc, argv);
  if (!slot()) slot() = std::make_unique<LocalComm>();
  std::atexit(finalize);
}

void finalize() {
  if (!slot()) return;
  slot().reset();
  finalize_mpi();
}

Comm& world() {
  if (!slot()) slot() = std::make_unique<LocalComm>();  // tests and tools that never called init()
  return *slot();
}

Range share(int64_t n, int rank, int size) {
  CXR_ASSERT(size > 0 && rank >= 0 && rank < size && n >= 0, "share: rank ", rank, " of ", size, ", n ", n);
  const int64_t base = n / size, extra = n % size;
  Range r;
  r.begin = rank * base + std::min<int64_t>(rank, extra);
  r.end = r.begin + base + (rank < extra ? 1 : 0);
  return r;
}

Range share_batches(int64_t n, int64_t batch, int rank, int size) {
  CXR_ASSERT(batch > 0, "share_batches: batch ", batch);
  const Range b = share((n + batch - 1) / batch, rank, size);
  return {std::min(n, b.begin * batch), std::min(n, b.end * batch)};
}

#ifndef CXR_WITH_MPI
bool built_with_mpi() { return false; }
std::string description() { return "not built with MPI"; }
std::unique_ptr<Comm> make_mpi_comm(int*, char***) { return nullptr; }
void finalize_mpi() {}
#endif

}  // namespace cxr::dist
