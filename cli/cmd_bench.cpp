// cxr bench: how fast this machine trains, infers and explains with cxr, at each thread count in turn.
//
//   cxr bench                                        (VGG-16 at width 0.25, 128 px: seconds on 2 cores)
//   cxr bench --quick                                (64 px, fewer repetitions: a smoke test)
//   cxr bench --width 1 --size 224 --batch 8 --threads 1,2 --json bench.json   (the real VGG-16)
//
// It prints the machine (CPU, ISA flags, OpenBLAS and its kernels, OpenMP settings, MPI), then per thread
// count: SGEMM GFLOP/s at the model's conv shapes, training and inference images/s, the effective GFLOP/s
// they stand for and their share of that SGEMM rate, Grad-CAM ms per image at batch 1, peak memory, and the
// parallel efficiency against the first thread count. Every figure is the median of --steps timed
// repetitions after one warm-up; warnings say when the machine was busy or the repetitions spread.
// The measuring is train/throughput.h and core/machine.h; this file runs the phases and prints them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/allocator.h"
#include "core/atomic_file.h"
#include "core/machine.h"
#include "core/progress.h"
#include "core/threading.h"
#include "core/timing.h"
#include "dist/comm.h"
#include "explain/cam.h"
#include "train/throughput.h"

namespace {

using nlohmann::json;

// A spread above this (coefficient of variation of the repetitions) makes the median doubtful.
constexpr double kMaxCv = 0.10;
// Steal above this share of the machine's CPU time in a phase: another guest took the cores.
constexpr double kMaxSteal = 0.02;
// Load average this far above the cores the benchmark leaves free: other work competes for its cores.
constexpr double kLoadSlack = 0.5;
constexpr int kWarmup = 1;

struct BenchOptions {
  std::string model = "vgg16";
  float width = 0.25f;
  int size = 128;
  int batch = 0;             // 0: 8, or the largest thread count when that is more
  std::vector<int> threads;  // empty: 1, 2, 4, ... up to the thread count cxr would use
  std::string json;
  int steps = 5;
  bool quick = false;
};

// One timed quantity: its repetitions, and a rate (per second, or per image) derived from the median.
struct Measured {
  cxr::Timing timing;
  double rate = 0;        // images/s, GFLOP/s, or images/s for Grad-CAM (1 / s per image)
  double efficiency = 0;  // rate / (first thread count's rate * threads / first threads)
};

struct PhaseResult {
  int threads = 0;
  std::vector<cxr::Timing> gemm;  // per conv shape
  double sgemm_gflops = 0;        // all the model's convs, weighted
  double sgemm_efficiency = 0;
  Measured train, infer, gradcam;
  double train_gflops = 0, infer_gflops = 0;
  int64_t peak_rss = 0, peak_tensors = 0;
  double steal = 0, load_after = 0;
};

struct BenchRun {
  BenchOptions o;
  cxr::ModelConfig config;
  cxr::MachineInfo machine;
  std::string mpi;
  double forward_flops = 0;  // per image
  std::vector<cxr::ConvGemm> gemms;
  std::vector<PhaseResult> phases;
  bool per_phase_memory = false;  // false: the peak RSS is the process's since it started
  double load_before = 0;
  std::vector<std::string> warnings;
};

// 1, 2, 4, ... below n, then n: how a user reads scaling, ending at the machine's count.
std::vector<int> default_thread_counts(int n) {
  std::vector<int> t;
  for (int k = 1; k < n; k *= 2) t.push_back(k);
  t.push_back(n);
  return t;
}

int max_threads(const BenchOptions& o) { return *std::max_element(o.threads.begin(), o.threads.end()); }

std::string fixed(double v, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << v;
  return s.str();
}

std::string threads_text(int n) { return cxr::str(n, n == 1 ? " thread" : " threads"); }

std::string mib(int64_t bytes) { return fixed(static_cast<double>(bytes) / (1 << 20), 0); }

// ---- measuring -------------------------------------------------------------------------------------

// The progress bar, one line per thread count ("bench, 2 threads"), on stderr: the report on stdout is
// what a user keeps, the bar is only there while it runs. It advances by each repetition's flops (in
// MFLOP), so that its ETA holds although a training step takes far longer than one SGEMM shape.
class Ticker {
 public:
  explicit Ticker(double flops_per_phase) : per_phase_(units(flops_per_phase)) {}
  void start(int threads) {
    label_ = cxr::str("bench, ", threads_text(threads));
    bar_ = std::make_unique<cxr::Progress>(label_ + ", MFLOP", per_phase_, stderr);
    done_ = 0;
  }
  std::function<void()> tick(double flops) {
    return [this, n = units(flops)] { bar_->update(done_ += n); };
  }
  // Off a terminal the bar prints a line every 10 s only: one more says the phase ended.
  void finish() {
    const bool tty = cxr::Progress::is_terminal(stderr);
    bar_->finish(tty ? "" : label_ + ": done in " + cxr::Progress::format_time(bar_->elapsed()));
  }
  static int64_t units(double flops) { return std::max<int64_t>(1, std::llround(flops * 1e-6)); }

 private:
  int64_t per_phase_, done_ = 0;
  std::string label_;
  std::unique_ptr<cxr::Progress> bar_;
};

// A phase's flops in the units the ticks add up (each repetition rounded as Ticker::tick rounds it).
double phase_flops(const BenchRun& r) {
  const int reps = kWarmup + r.o.steps;
  double units = 0;
  for (const cxr::ConvGemm& g : r.gemms) units += reps * Ticker::units(g.flops() * r.o.batch);
  units += reps * Ticker::units(r.forward_flops * r.o.batch * cxr::kTrainingFlopsPerForward);
  units += reps * Ticker::units(r.forward_flops * r.o.batch);
  units += reps * Ticker::units(r.forward_flops);
  return units * 1e6;
}

void measure_gemms(BenchRun& r, PhaseResult& p, Ticker& t) {
  for (const cxr::ConvGemm& g : r.gemms)
    p.gemm.push_back(cxr::time_conv_gemm(g, r.o.batch, kWarmup, r.o.steps, t.tick(g.flops() * r.o.batch)));
  p.sgemm_gflops = cxr::combined_gflops(r.gemms, p.gemm, r.o.batch);
}

double ms_gradcam(cxr::Model& model, const cxr::Tensor& image, int steps, const std::function<void()>& tick,
                  cxr::Timing& timing) {
  cxr::ExplainRequest req;  // Grad-CAM of the predicted class at the default layer, as `cxr explain` runs it
  timing = cxr::time_repeated(kWarmup, steps, [&] { cxr::explain_batch(model, image, req); }, tick);
  return 1e3 * timing.median();
}

PhaseResult measure_phase(BenchRun& r, int threads, cxr::Model& model, cxr::Optimizer& opt,
                          const cxr::RandomBatch& data, const cxr::Tensor& one, Ticker& t) {
  cxr::set_num_threads(threads);
  t.start(threads);
  PhaseResult p;
  p.threads = threads;
  const cxr::CpuTimes cpu0 = cxr::cpu_times();
  measure_gemms(r, p, t);
  // Memory from here on: the products' buffers are freed, and the cache of freed tensors emptied, so the
  // peak is what the model's phases hold.
  cxr::release_storage_cache();
  cxr::reset_storage_peak();
  r.per_phase_memory = cxr::reset_peak_rss();
  const double n = r.o.batch, f = r.forward_flops;
  p.train.timing =
      cxr::time_training(model, opt, data, kWarmup, r.o.steps, t.tick(n * f * cxr::kTrainingFlopsPerForward));
  p.train.rate = n / p.train.timing.median();
  p.infer.timing = cxr::time_inference(model, data.x, kWarmup, r.o.steps, t.tick(n * f));
  p.infer.rate = n / p.infer.timing.median();
  p.gradcam.rate = 1e3 / ms_gradcam(model, one, r.o.steps, t.tick(f), p.gradcam.timing);
  p.peak_rss = cxr::peak_rss_bytes();
  p.peak_tensors = static_cast<int64_t>(cxr::storage_use().peak_bytes);
  p.train_gflops = p.train.rate * r.forward_flops * cxr::kTrainingFlopsPerForward * 1e-9;
  p.infer_gflops = p.infer.rate * r.forward_flops * 1e-9;
  p.steal = cxr::steal_fraction(cpu0, cxr::cpu_times());
  p.load_after = cxr::load_average();
  t.finish();
  return p;
}

// Efficiency: the speed-up over the first thread count divided by the ratio of thread counts.
void set_efficiency(std::vector<PhaseResult>& phases) {
  const PhaseResult& first = phases.front();
  auto eff = [&](double rate, double rate0, int threads) {
    return rate0 > 0 ? rate / rate0 / (static_cast<double>(threads) / first.threads) : 0.0;
  };
  for (PhaseResult& p : phases) {
    p.sgemm_efficiency = eff(p.sgemm_gflops, first.sgemm_gflops, p.threads);
    p.train.efficiency = eff(p.train.rate, first.train.rate, p.threads);
    p.infer.efficiency = eff(p.infer.rate, first.infer.rate, p.threads);
    p.gradcam.efficiency = eff(p.gradcam.rate, first.gradcam.rate, p.threads);
  }
}

void check_spread(BenchRun& r, const std::string& what, int threads, const cxr::Timing& t) {
  if (t.cv() > kMaxCv)
    r.warnings.push_back(cxr::str(what, " at ", threads_text(threads), ": the repetitions vary by ",
                                  fixed(100 * t.cv(), 0),
                                  "% (coefficient of variation), more than ", fixed(100 * kMaxCv, 0), "%"));
}

void check_machine(BenchRun& r) {
  const int cores = r.machine.logical_cores, most = max_threads(r.o);
  const double free = std::max(0, cores - most);
  if (r.load_before > free + kLoadSlack)
    r.warnings.push_back(cxr::str("the machine is busy: load average ", fixed(r.load_before, 2),
                                  " before the run, with ",
                                  cores, " cores of which ", free, " are left free by ", threads_text(most)));
  if (most > cores) r.warnings.push_back(cxr::str(threads_text(most), " on ", cores, " cores: they share cores"));
  if (r.o.steps < 2) r.warnings.push_back("one timed repetition per figure (--steps 1): no spread can be seen");
  for (const PhaseResult& p : r.phases) {
    if (p.steal > kMaxSteal)
      r.warnings.push_back(cxr::str("at ", threads_text(p.threads), " the hypervisor gave ", fixed(100 * p.steal, 1),
                                    "% of the CPU time to other guests (steal)"));
    // The load then counts this phase's own threads too (it is a 1-minute average, so partly).
    const double others = p.load_after - p.threads;
    if (others > std::max(0, cores - p.threads) + kLoadSlack)
      r.warnings.push_back(cxr::str("the machine is busy: load average ", fixed(p.load_after, 2), " after the ",
                                    p.threads, "-thread phase, which ran ", threads_text(p.threads), " on ", cores,
                                    " cores"));
    for (size_t i = 0; i < r.gemms.size(); ++i) check_spread(r, "SGEMM " + r.gemms[i].layer, p.threads, p.gemm[i]);
    check_spread(r, "training", p.threads, p.train.timing);
    check_spread(r, "inference", p.threads, p.infer.timing);
    check_spread(r, "Grad-CAM", p.threads, p.gradcam.timing);
  }
}

void run_phases(BenchRun& r) {
  std::shared_ptr<cxr::Model> model = cxr::make_model(r.config);
  r.forward_flops = cxr::forward_flops_per_image(*model, r.o.size);
  r.gemms = cxr::conv_gemms(*model, r.o.size);
  // SGD with momentum, as `cxr train` steps; a small rate keeps random data from driving the weights far.
  cxr::SGD opt(model->named_parameters(), 1e-4f, cxr::SGDOptions{0.9f, 0.0f, 0.0f, false});
  const cxr::RandomBatch data = cxr::random_batch(r.config, r.o.batch);
  const cxr::Tensor one = cxr::random_batch(r.config, 1, 2).x;
  Ticker ticker(phase_flops(r));
  for (int t : r.o.threads) r.phases.push_back(measure_phase(r, t, *model, opt, data, one, ticker));
  set_efficiency(r.phases);
}

// ---- printing --------------------------------------------------------------------------------------

std::string isa_text(const cxr::MachineInfo& m) {
  std::string has, lacks;
  for (const auto& [flag, present] : m.isa) {
    std::string& list = present ? has : lacks;
    list += (list.empty() ? "" : " ") + flag;
  }
  return (has.empty() ? "none of those below" : has) + (lacks.empty() ? "" : "  (not: " + lacks + ")");
}

std::string env_text(const cxr::MachineInfo& m) {
  std::string s;
  for (const auto& [name, value] : m.env)
    s += (s.empty() ? "" : " ") + name + "=" + (value.empty() ? "(unset)" : value);
  return s;
}

void print_machine(const BenchRun& r) {
  const cxr::MachineInfo& m = r.machine;
  std::cout << "Machine\n"
            << "  CPU          " << (m.cpu_model.empty() ? "unknown" : m.cpu_model) << "\n"
            << "  cores        " << m.logical_cores << " logical, "
            << (m.physical_cores ? std::to_string(m.physical_cores) : std::string("unknown")) << " physical\n"
            << "  ISA          " << isa_text(m) << "\n"
            << "  OpenBLAS     " << (m.blas_version.empty() ? "?" : m.blas_version) << ", kernels " << m.blas_core
            << ", threads " << cxr::blas_threading_name(m.blas_threading) << "  (" << m.blas_config << ")\n"
            << "  OpenMP       proc_bind " << m.omp_proc_bind << "\n"
            << "  environment  " << env_text(m) << "\n"
            << "  MPI          " << r.mpi << "\n"
            << "  load average " << fixed(r.load_before, 2) << " before the run\n\n";
}

void print_model(const BenchRun& r) {
  std::cout << "Model\n  " << cxr::model_name(r.config) << " width " << r.o.width << " at " << r.o.size << " px, "
            << r.config.in_channels << " channel, " << r.config.num_classes << " classes, batch " << r.o.batch << ": "
            << fixed(r.forward_flops * 1e-9, 2) << " GFLOP per image forward, x" << cxr::kTrainingFlopsPerForward
            << " for a training step\n  every figure: median of " << r.o.steps << " timed repetitions after "
            << kWarmup << " warm-up\n\n";
}

void print_sgemm(const BenchRun& r) {
  std::cout << "SGEMM at the model's conv shapes (GFLOP/s; " << r.o.batch
            << " products per shape, split over the threads as conv2d splits a batch)\n";
  std::cout << "  " << std::left << std::setw(34) << "layer  M x N x K" << std::right << std::setw(7) << "convs";
  for (const PhaseResult& p : r.phases) std::cout << std::setw(12) << cxr::str(p.threads, " thr");
  std::cout << "\n";
  for (size_t i = 0; i < r.gemms.size(); ++i) {
    const cxr::ConvGemm& g = r.gemms[i];
    std::cout << "  " << std::left << std::setw(34) << cxr::str(g.layer, "  ", g.M, " x ", g.N, " x ", g.K)
              << std::right
              << std::setw(7) << g.layers;
    for (const PhaseResult& p : r.phases)
      std::cout << std::setw(12) << fixed(g.flops() * r.o.batch / p.gemm[i].median() * 1e-9, 1);
    std::cout << "\n";
  }
  std::cout << "  " << std::left << std::setw(41) << "all convs (time-weighted)" << std::right;
  for (const PhaseResult& p : r.phases) std::cout << std::setw(12) << fixed(p.sgemm_gflops, 1);
  std::cout << "\n\n";
}

void print_phases(const BenchRun& r) {
  std::cout << "Per thread count (eff: parallel efficiency against " << r.phases.front().threads
            << " thread" << (r.phases.front().threads == 1 ? "" : "s") << "; % SGEMM: of the row's SGEMM rate)\n";
  std::cout << "  threads  train img/s   eff  GFLOP/s %SGEMM   infer img/s   eff  GFLOP/s %SGEMM  Grad-CAM ms   eff"
               "  peak RSS MiB  tensors MiB\n";
  for (const PhaseResult& p : r.phases) {
    auto share = [&](double g) { return fixed(p.sgemm_gflops > 0 ? 100 * g / p.sgemm_gflops : 0, 0); };
    std::cout << std::right << std::setw(9) << p.threads << std::setw(13) << fixed(p.train.rate, 2) << std::setw(6)
              << fixed(p.train.efficiency, 2) << std::setw(9) << fixed(p.train_gflops, 1) << std::setw(7)
              << share(p.train_gflops) << std::setw(14) << fixed(p.infer.rate, 2) << std::setw(6)
              << fixed(p.infer.efficiency, 2) << std::setw(9) << fixed(p.infer_gflops, 1) << std::setw(7)
              << share(p.infer_gflops) << std::setw(13) << fixed(1e3 / p.gradcam.rate, 1) << std::setw(6)
              << fixed(p.gradcam.efficiency, 2) << std::setw(14) << mib(p.peak_rss) << std::setw(13)
              << mib(p.peak_tensors) << "\n";
  }
  std::cout << "  peak RSS: " << (r.per_phase_memory ? "the most resident memory during each row's model phases"
                                                     : "the process's high-water mark since it started (this "
                                                       "system cannot reset it per row)")
            << "; tensors: the most tensor storage held at once in them\n\n";
}

void print_warnings(const BenchRun& r) {
  if (r.warnings.empty()) {
    std::cout << "No warnings: the machine was quiet and the repetitions agreed.\n";
    return;
  }
  std::cout << "Warnings\n";
  for (const std::string& w : r.warnings) std::cout << "  - " << w << "\n";
}

// ---- JSON ------------------------------------------------------------------------------------------

json machine_json(const BenchRun& r) {
  const cxr::MachineInfo& m = r.machine;
  json isa = json::object(), env = json::object();
  for (const auto& [flag, present] : m.isa) isa[flag] = present;
  for (const auto& [name, value] : m.env) env[name] = value.empty() ? json() : json(value);
  return {{"cpu_model", m.cpu_model}, {"logical_cores", m.logical_cores}, {"physical_cores", m.physical_cores},
          {"isa", isa}, {"openblas", {{"version", m.blas_version}, {"config", m.blas_config}, {"core", m.blas_core},
                                      {"threading", cxr::blas_threading_name(m.blas_threading)}}},
          {"omp_proc_bind", m.omp_proc_bind}, {"environment", env}, {"mpi", r.mpi},
          {"load_average_before", r.load_before}};
}

json timing_json(const cxr::Timing& t) {
  return {{"median_s", t.median()}, {"cv", t.cv()}, {"seconds", t.seconds}};
}

json measured_json(const Measured& m, const std::string& rate_name) {
  json j = timing_json(m.timing);
  j[rate_name] = m.rate;
  j["efficiency"] = m.efficiency;
  return j;
}

json phase_json(const BenchRun& r, const PhaseResult& p) {
  json shapes = json::array();
  for (size_t i = 0; i < r.gemms.size(); ++i) {
    const cxr::ConvGemm& g = r.gemms[i];
    json s = timing_json(p.gemm[i]);
    s.update({{"layer", g.layer}, {"M", g.M}, {"N", g.N}, {"K", g.K}, {"convs", g.layers},
              {"gflops", g.flops() * r.o.batch / p.gemm[i].median() * 1e-9}});
    shapes.push_back(s);
  }
  json train = measured_json(p.train, "images_per_s"), infer = measured_json(p.infer, "images_per_s");
  train.update({{"gflops", p.train_gflops}, {"share_of_sgemm", p.train_gflops / p.sgemm_gflops}});
  infer.update({{"gflops", p.infer_gflops}, {"share_of_sgemm", p.infer_gflops / p.sgemm_gflops}});
  json gradcam = measured_json(p.gradcam, "images_per_s");
  gradcam["ms_per_image"] = 1e3 / p.gradcam.rate;
  return {{"threads", p.threads},
          {"sgemm", {{"gflops", p.sgemm_gflops}, {"efficiency", p.sgemm_efficiency}, {"shapes", shapes}}},
          {"training", train}, {"inference", infer}, {"gradcam", gradcam},
          {"memory", {{"peak_rss_bytes", p.peak_rss}, {"peak_tensor_bytes", p.peak_tensors},
                      {"per_phase", r.per_phase_memory}}},
          {"steal_fraction", p.steal}, {"load_average_after", p.load_after}};
}

json run_json(const BenchRun& r) {
  json phases = json::array();
  for (const PhaseResult& p : r.phases) phases.push_back(phase_json(r, p));
  return {{"machine", machine_json(r)},
          {"model", {{"name", cxr::model_name(r.config)}, {"width", r.o.width}, {"size", r.o.size},
                     {"channels", r.config.in_channels}, {"classes", r.config.num_classes},
                     {"forward_flops_per_image", r.forward_flops},
                     {"training_flops_per_image", r.forward_flops * cxr::kTrainingFlopsPerForward}}},
          {"settings", {{"batch", r.o.batch}, {"steps", r.o.steps}, {"warmup", kWarmup}, {"threads", r.o.threads},
                        {"quick", r.o.quick}}},
          {"results", phases},
          {"warnings", r.warnings}};
}

// ---- the command -----------------------------------------------------------------------------------

void run_bench(const BenchOptions& o) {
  BenchRun r;
  r.o = o;
  r.config = cxr::cli::option_value("--model", [&] { return cxr::config_from_name(o.model); });
  r.config.width = o.width;
  r.config.input_size = o.size;
  r.config.in_channels = 1;  // grey X-rays, as `cxr train` reads them
  r.config.num_classes = 3;
  cxr::cli::option_value("", [&] { cxr::validate(r.config); });
  r.machine = cxr::describe_machine();
  r.mpi = cxr::dist::description();
  r.load_before = cxr::load_average();
  print_machine(r);
  run_phases(r);
  print_model(r);
  print_sgemm(r);
  print_phases(r);
  check_machine(r);
  print_warnings(r);
  if (!o.json.empty()) {
    cxr::write_file_atomic(o.json, run_json(r).dump(1) + "\n");
    std::cout << "Wrote " << o.json << "\n";
  }
}

// --threads of this command: a comma-separated list of thread counts, each a whole number >= 1.
CLI::Validator thread_list_entry() {
  return CLI::Validator(
      [](const std::string& v) -> std::string {
        const std::optional<long> n = cxr::cli::whole_number(v);
        if (n && *n >= 1 && *n <= 4096) return "";
        return "'" + v + "' is not a thread count: a whole number from 1 to 4096 (a list: 1,2,4)";
      },
      "");
}

// --quick: a smaller model and fewer repetitions, for the options not given.
void apply_defaults(BenchOptions& o, bool size_given, bool batch_given, bool steps_given) {
  if (o.threads.empty()) o.threads = default_thread_counts(cxr::num_threads());
  if (o.quick) {
    if (!size_given) o.size = 64;
    if (!steps_given) o.steps = 3;
  }
  // conv2d gives each thread an image when the batch has one for every thread (layers/conv2d.h).
  if (!batch_given) o.batch = std::max(o.quick ? 4 : 8, max_threads(o));
}

cxr::cli::Register reg{
    "bench", "Benchmark this machine: SGEMM, training, inference and Grad-CAM at each thread count", 95,
    [](CLI::App& app) {
      auto o = std::make_shared<BenchOptions>();
      app.add_option("--model", o->model, "vgg11 | vgg13 | vgg16 | vgg19 | seedcnn, each also as <arch>_bn")
          ->capture_default_str()->check(cxr::cli::known_model_name());
      app.add_option("--width", o->width, "Channel multiplier (1 = torchvision's VGG)")
                        ->capture_default_str()->check(CLI::Range(0.001, 8.0));
      auto* size = app.add_option("--size", o->size, "Input side in pixels (--quick: 64)")
                       ->capture_default_str()->check(cxr::cli::multiple_of_32());
      auto* batch = app.add_option("--batch", o->batch, "Images per training and inference batch (default 8, or "
                                                        "the largest thread count when more; --quick: 4)")
                        ->check(cxr::cli::at_least(1));
      app.add_option("--threads", o->threads, "Thread counts to run at in turn, e.g. 1,2,4 (default 1, 2, 4, ... "
                                              "up to cxr's thread count: `cxr --threads N bench`, $CXR_THREADS "
                                              "or all cores)")
          ->delimiter(',')->check(thread_list_entry())->type_name("N,N,...");
      app.add_option("--json", o->json, "Also write every figure to this JSON file");
      auto* steps = app.add_option("--steps", o->steps, "Timed repetitions of each measurement, after one warm-up "
                                                        "(--quick: 3)")
                        ->capture_default_str()->check(cxr::cli::at_least(1));
      app.add_flag("--quick", o->quick, "Smaller inputs and fewer repetitions: 64 px, batch 4, 3 steps (options "
                                        "given keep their values)");
      app.callback([o, size, batch, steps] {
        apply_defaults(*o, size->count() > 0, batch->count() > 0, steps->count() > 0);
        run_bench(*o);
      });
    },
    cxr::cli::Ranks::one, cxr::cli::ThreadsOption::own};

}  // namespace
