// cxr: train, evaluate and explain chest X-ray classifiers on the CPU.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/command.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/threading.h"
#include "core/version.h"
#include "dist/comm.h"
#include "layers/conv_algo.h"
#include "models/model.h"

namespace cxr::cli {

std::vector<Command>& commands() {
  static std::vector<Command> all;
  return all;
}

bool stdout_is_tty() { return isatty(fileno(stdout)) != 0; }

CLI::Validator known_model_name() {
  return CLI::Validator(
      [](const std::string& v) -> std::string {
        try {
          cxr::config_from_name(v, {});
          return "";
        } catch (const cxr::Error& e) {
          return e.what();
        }
      },
      "");
}

// "`cxr eval`, `cxr explain`, ..." : the commands that share their work out under mpirun, sorted by name.
std::string shared_commands() {
  std::vector<std::string> names;
  for (const Command& c : commands())
    if (c.ranks == Ranks::shared) names.push_back("`cxr " + c.name + "`");
  std::sort(names.begin(), names.end());
  return cxr::join(names, ", ");
}

}  // namespace cxr::cli

int main(int argc, char** argv) {
  // Two settings that libgomp and OpenBLAS read when they are loaded, before main(), so they are set by
  // running ourselves again once (a value the user set is kept; docs/PERFORMANCE.md has the measurements):
  //  - OMP_WAIT_POLICY=passive: OpenMP threads that spin while waiting take the cores from OpenBLAS's
  //    threads and from each other; on a busy machine that made a training epoch 10x slower, and on an
  //    idle one batch-1 inference 1.6x slower.
  //  - OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs that OpenBLAS does not know (Zen 4/5 with Debian's
  //    0.3.21), where it would run its AVX2 kernels at half the speed (core/blas.h).
  bool again = false;
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    again = true;
  }
  if (!std::getenv("OPENBLAS_CORETYPE"))
    if (const char* core = cxr::preferred_blas_coretype()) {
      setenv("OPENBLAS_CORETYPE", core, 1);
      again = true;
    }
  if (again) execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  using namespace cxr::cli;
  // Under mpirun: MPI, and each rank's default thread count is its share of this machine's cores.
  cxr::dist::init(&argc, &argv);
  cxr::dist::Comm& comm = cxr::dist::world();
  cxr::set_processes_per_node(comm.ranks_on_node());
  // The ranks other than 0 print nothing unless they fail (errors go to stderr).
  if (!comm.is_root() && !std::freopen("/dev/null", "w", stdout)) return 1;
  CLI::App app{"cxr: train, evaluate and explain chest X-ray classifiers (VGG + Grad-CAM) on the CPU.\n"
               "Exit codes: 0 ok, 1 runtime error, 2 usage error.",
               "cxr"};
  app.set_version_flag("--version", std::string("cxr ") + cxr::kVersion + "\nMPI: " + cxr::dist::description());
  app.require_subcommand(1);
  // --threads may come before or after the command name (the command's wins). The thread count is set
  // when the command's arguments are parsed, before the command runs. CLI11 would store a top-level value
  // only after that, so the top-level option is checked and stored as soon as it is read (which also
  // blames a bad value on `cxr`, not on the command); the command's own is read from its parsed result.
  const std::string threads_help = "Threads for compute (default: $CXR_THREADS or all cores)";
  int top_value = 0, sub_value = 0;  // sub_value is only bound for the help's type
  app.add_option("--threads", top_value, threads_help)->check(cxr::cli::thread_count())->trigger_on_parse();
  // --conv, on the commands that run a model (docs/WINOGRAD.md says why im2col is the default).
  const std::string conv_help = "Convolution algorithm: im2col | winograd (Winograd F(2x2,3x3) on 3x3 stride-1 "
                                "layers with >= 16 input channels) | auto (the faster per layer shape, timed once)";
  std::string conv_text;  // only bound for the help's type
  auto& cmds = commands();
  std::stable_sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  std::string running;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    CLI::Option* sub_threads = nullptr;
    if (c.threads == ThreadsOption::common)
      sub_threads = sub->add_option("--threads", sub_value, threads_help)->check(cxr::cli::thread_count());
    CLI::Option* sub_conv = nullptr;
    if (c.conv == ConvOption::common)
      sub_conv = sub->add_option("--conv", conv_text, conv_help)
                     ->check(cxr::cli::parsed_by(cxr::parse_conv_algo))
                     ->default_str("im2col");
    c.setup(*sub);
    sub->parse_complete_callback([&running, &c, &top_value, sub_threads, sub_conv, &comm] {
      running = c.name;
      if (comm.size() > 1 && c.ranks == cxr::cli::Ranks::one)
        throw CLI::ValidationError("mpirun", "cxr " + c.name + " runs in one process only (under mpirun -np " +
                                                 std::to_string(comm.size()) + " only " + shared_commands() +
                                                 " share their work out over the ranks): run it without mpirun");
      cxr::set_num_threads(sub_threads && sub_threads->count() ? sub_threads->as<int>() : top_value);
      cxr::set_conv_algo(sub_conv && sub_conv->count() ? cxr::parse_conv_algo(sub_conv->as<std::string>())
                                                       : cxr::ConvAlgo::im2col);
    });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command's own exit code (e.g. 130 after Ctrl-C)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    CLI::App* failed = &app;  // the command whose arguments were being read, else cxr itself
    for (auto* s : app.get_subcommands()) failed = s;
    const bool sub = failed != &app;
    if (comm.is_root()) {  // every rank parsed the same arguments: one message is enough
      std::cerr << "cxr" << (sub ? " " + failed->get_name() : "") << ": " << e.what() << "\n";
      std::cerr << failed->help(sub ? "cxr" : "", CLI::AppFormatMode::Normal).substr(0, 4000);
    }
    return 2;
  } catch (const cxr::dist::AllRanksError& e) {
    if (comm.is_root()) std::cerr << "cxr" << (running.empty() ? "" : " " + running) << ": error: " << e.what() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cxr" << (running.empty() ? "" : " " + running)
              << (comm.size() > 1 ? " (rank " + std::to_string(comm.rank()) + " of " + std::to_string(comm.size()) + ")"
                                  : std::string())
              << ": error: " << e.what() << std::endl;
    // The other ranks may be waiting for this one in a reduction: end them all (mpirun exits non-zero).
    if (comm.size() > 1) comm.abort(1);
    return 1;
  }
  return 0;
}
