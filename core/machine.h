// What a benchmark needs to know about the machine it runs on, and how busy it is (`cxr bench`).
//
// The CPU as Linux describes it (/proc/cpuinfo: model, cores, the vector ISA flags that decide which
// OpenBLAS kernels can run), the BLAS and OpenMP settings that decide how cxr's threads run, and three
// readings that say whether a timing can be trusted: the load average (/proc/loadavg), the share of CPU
// time the hypervisor gave to other guests (steal, /proc/stat) and the process's peak resident memory
// (VmHWM in /proc/self/status), which Linux lets a process reset so that each phase gets its own peak.
// Everything here reads Linux's files; on another system the fields stay empty or 0 ("unknown").
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

// How the loaded OpenBLAS runs its threads (openblas_get_parallel()).
enum class BlasThreading { sequential, pthreads, openmp, unknown };
const char* blas_threading_name(BlasThreading t);

struct MachineInfo {
  int logical_cores = 0;           // what the OS schedules on (hardware threads)
  int physical_cores = 0;          // distinct (socket, core) pairs; 0: unknown
  std::string cpu_model;           // "AMD EPYC 9R45 ..." ("" when unknown)
  // The ISA flags that matter for SGEMM, each with whether this CPU has it (in isa_flags() order).
  std::vector<std::pair<std::string, bool>> isa;
  std::string blas_config;         // openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  std::string blas_version;        // "0.3.21" (from the config; "" when it does not say)
  std::string blas_core;           // openblas_get_corename(): the kernels in use, "Haswell"
  BlasThreading blas_threading = BlasThreading::unknown;
  // The environment variables that change how the libraries run ("" when unset).
  std::vector<std::pair<std::string, std::string>> env;
  std::string omp_proc_bind;       // omp_get_proc_bind(): "false", "true", "primary", "close", "spread"
};

// The flags reported in MachineInfo::isa: AVX2 + FMA (OpenBLAS's Haswell kernels), AVX-512 F/BW/DQ/VL (its
// SkylakeX ones), and the bf16 / VNNI extensions, which float32 SGEMM does not use but a reader asks about.
inline const std::vector<std::string>& isa_flags() {
  static const std::vector<std::string> f = {"avx2",     "fma",      "avx512f",     "avx512bw",
                                             "avx512dq", "avx512vl", "avx512_bf16", "avx512_vnni"};
  return f;
}

MachineInfo describe_machine();

// The 1-minute load average (runnable + uninterruptible tasks); -1 when unknown.
double load_average();

// Cumulative CPU time of the whole machine in clock ticks (/proc/stat's first line).
struct CpuTimes {
  uint64_t total = 0;
  uint64_t steal = 0;  // time this virtual machine's CPUs waited while the hypervisor ran another guest
};
CpuTimes cpu_times();
// Steal between two readings as a fraction of all CPU time in between (0 when nothing elapsed).
double steal_fraction(const CpuTimes& before, const CpuTimes& after);

// The process's peak resident memory in bytes since it started or since the last reset_peak_rss()
// (VmHWM); 0 when unknown.
int64_t peak_rss_bytes();
// Resets the peak to the memory resident now (writes "5" to /proc/self/clear_refs, Linux >= 4.0).
// Returns false when the system does not allow it: the peak then stays process-wide.
bool reset_peak_rss();

}  // namespace cxr
