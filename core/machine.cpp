#include "core/machine.h"

#include <omp.h>

#include <cblas.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace cxr {

namespace {

// "key : value" of a /proc/cpuinfo line, split at the first ':' (both trimmed); false for other lines.
bool cpuinfo_field(const std::string& line, std::string& key, std::string& value) {
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return false;
  auto trim = [](std::string s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  key = trim(line.substr(0, colon));
  value = trim(line.substr(colon + 1));
  return true;
}

// Model name, ISA flags and the number of distinct (physical id, core id) pairs, from /proc/cpuinfo.
void read_cpuinfo(MachineInfo& m) {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> flags, cores;
  std::string physical_id = "0", key, value;
  for (std::string line; std::getline(in, line);) {
    if (!cpuinfo_field(line, key, value)) continue;
    if (key == "model name" && m.cpu_model.empty()) m.cpu_model = value;
    if (key == "physical id") physical_id = value;
    if (key == "core id") cores.insert(physical_id + "/" + value);
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.insert(w);
    }
  }
  m.physical_cores = static_cast<int>(cores.size());
  for (const std::string& f : isa_flags()) m.isa.emplace_back(f, flags.count(f) > 0);
}

BlasThreading blas_threading() {
  switch (openblas_get_parallel()) {
    case 0: return BlasThreading::sequential;
    case 1: return BlasThreading::pthreads;
    case 2: return BlasThreading::openmp;
    default: return BlasThreading::unknown;
  }
}

const char* proc_bind_name(omp_proc_bind_t b) {
  switch (b) {
    case omp_proc_bind_false: return "false";
    case omp_proc_bind_true: return "true";
    case omp_proc_bind_master: return "primary";
    case omp_proc_bind_close: return "close";
    case omp_proc_bind_spread: return "spread";
  }
  return "unknown";
}

// The value after "<key>:" in /proc/self/status, in kB ("VmHWM:   123456 kB"); 0 when absent.
int64_t status_kb(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  return 0;
}

}  // namespace

const char* blas_threading_name(BlasThreading t) {
  switch (t) {
    case BlasThreading::sequential: return "sequential";
    case BlasThreading::pthreads: return "pthreads";
    case BlasThreading::openmp: return "openmp";
    case BlasThreading::unknown: break;
  }
  return "unknown";
}

MachineInfo describe_machine() {
  MachineInfo m;
  m.logical_cores = static_cast<int>(std::thread::hardware_concurrency());
  read_cpuinfo(m);
  m.blas_config = openblas_get_config();
  // The config starts "OpenBLAS <version> ...".
  std::istringstream words(m.blas_config);
  std::string first, second;
  if (words >> first >> second && first == "OpenBLAS") m.blas_version = second;
  m.blas_core = openblas_get_corename();
  m.blas_threading = blas_threading();
  for (const char* name : {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OMP_PROC_BIND", "OMP_PLACES",
                           "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "CXR_THREADS"}) {
    const char* v = std::getenv(name);
    m.env.emplace_back(name, v ? v : "");
  }
  m.omp_proc_bind = proc_bind_name(omp_get_proc_bind());
  return m;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  if (!(in >> one)) return -1;
  return one;
}

CpuTimes cpu_times() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is already counted
  // in user and nice, so the total is the first eight.
  std::ifstream in("/proc/stat");
  std::string label;
  CpuTimes t;
  if (!(in >> label) || label != "cpu") return t;
  for (int i = 0; i < 8; ++i) {
    uint64_t v = 0;
    if (!(in >> v)) return {};
    t.total += v;
    if (i == 7) t.steal = v;
  }
  return t;
}

double steal_fraction(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.steal < before.steal) return 0.0;
  return static_cast<double>(after.steal - before.steal) / static_cast<double>(after.total - before.total);
}

int64_t peak_rss_bytes() { return status_kb("VmHWM") * 1024; }

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace cxr
