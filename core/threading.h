// Threading: the one place that decides how many threads cxr uses.
//
// Our own loops use OpenMP; matrix products use OpenBLAS, which has its own thread pool. set_num_threads()
// sets both to the same count. They never run at once: OpenBLAS is called either from serial code (with all
// threads) or from inside an OpenMP loop under a BlasSingleThread guard, so the cores are never
// oversubscribed. The count comes from --threads N, else the CXR_THREADS environment variable, else the
// number of cores divided by the cxr processes on this machine (under mpirun, hybrid MPI + OpenMP: two ranks
// on one machine take half its cores each).
#pragma once

namespace cxr {

int num_threads();
void set_num_threads(int n);       // n <= 0: CXR_THREADS, else all cores
int default_num_threads();         // CXR_THREADS if set and valid, else cores / processes_per_node
// OpenMP keeps its thread count per thread: a thread started by a library (an HTTP server's worker) runs
// our parallel loops with OpenMP's default (every core), not with set_num_threads()'s count, until it
// calls this. Cheap; call it where such a thread enters cxr.
void adopt_num_threads();
// The cxr processes sharing this machine's cores (dist::init sets it from MPI; 1 without mpirun).
void set_processes_per_node(int n);

// While alive, OpenBLAS runs single-threaded (for calls made from inside our own parallel loops).
class BlasSingleThread {
 public:
  BlasSingleThread();
  ~BlasSingleThread();
  BlasSingleThread(const BlasSingleThread&) = delete;
  BlasSingleThread& operator=(const BlasSingleThread&) = delete;

 private:
  int saved_;
};

}  // namespace cxr
