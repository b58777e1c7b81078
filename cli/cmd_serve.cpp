// cxr serve: explore a checkpoint's explanations in the browser (serve/server.h has the API).
//
//   cxr serve --model runs/x/best.safetensors
//   cxr serve --model best.safetensors --data data/test --port 8080
//   cxr serve --model best.safetensors --host 0.0.0.0 --token "$(openssl rand -hex 16)"
//
// Prints the address to open and serves until SIGINT or SIGTERM, then stops accepting, finishes the requests
// in flight and exits 0. The signal handler only writes a byte to a pipe (async-signal-safe); a watcher
// thread reads it and calls the server's stop(), which is not safe inside a handler.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "cli/command.h"
#include "data/dataset.h"
#include "explain/sha256.h"
#include "io/model_file.h"
#include "serve/server.h"

namespace {

struct Options {
  std::string model, arch, normalize, host = "127.0.0.1", data, token;
  std::vector<std::string> external_classes;
  int port = 8080, http_threads = 8, faithfulness_steps = 16;
  size_t cache = 32;
  double max_upload_mb = 32;
};

int g_signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const char b = 1;
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], &b, 1);
}

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

void run(const Options& o) {
  cxr::io::LoadedModel lm = cxr::io::load_model_file(o.model, o.arch, o.normalize, o.external_classes);
  std::optional<cxr::data::Dataset> dataset;
  if (!o.data.empty()) {
    cxr::data::DatasetOptions dopt;
    dopt.class_names = lm.meta.classes;
    dataset = cxr::data::open_dataset(o.data, dopt);
  }
  cxr::serve::ExplorerOptions eopt;
  eopt.cache_images = o.cache;
  eopt.faithfulness.steps = o.faithfulness_steps;
  cxr::serve::ServerOptions sopt;
  sopt.host = o.host;
  sopt.port = o.port;
  sopt.token = o.token;
  sopt.max_upload_bytes = static_cast<size_t>(o.max_upload_mb * 1024 * 1024);
  sopt.http_threads = o.http_threads;
  sopt.checkpoint_sha256 = cxr::sha256_file(o.model);
  const std::string name = lm.model->name();
  const size_t classes = lm.meta.classes.size();
  cxr::serve::Explorer explorer(std::move(lm), eopt);
  cxr::serve::Server server(explorer, sopt, std::move(dataset));
  const int port = server.bind();

  if (!is_loopback(o.host)) {
    std::fprintf(stderr, "cxr serve: warning: listening on %s: anyone who can reach this machine can use the model%s\n",
                 o.host.c_str(), o.token.empty() ? " (no --token is set: consider one)" : " with the token");
  }
  CXR_CHECK(::pipe2(g_signal_pipe, O_CLOEXEC) == 0, "serve: cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a browser that hangs up must not end the server
  std::thread watcher([&server] {
    char b = 0;
    while (::read(g_signal_pipe[0], &b, 1) < 0 && errno == EINTR) {
    }
    server.stop();
  });

  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  std::printf("cxr serve: %s (%s, %zu classes)%s\n", o.model.c_str(), name.c_str(), classes,
              o.data.empty() ? "" : cxr::str(", images of ", o.data).c_str());
  std::printf("Open http://%s:%d/%s  (Ctrl-C to stop)\n", host.c_str(), port,
              o.token.empty() ? "" : ("?token=" + o.token).c_str());
  std::fflush(stdout);
  server.listen();  // until the watcher stops it

  on_stop_signal(0);  // wakes the watcher also when listen() ended on its own
  watcher.join();
  ::close(g_signal_pipe[0]);
  ::close(g_signal_pipe[1]);
  std::printf("cxr serve: stopped\n");
}

void setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("--model", o->model, "Checkpoint (.safetensors)")->required();
  cxr::cli::add_external_model_options(app, o->arch, o->normalize, o->external_classes);
  app.add_option("--port", o->port, "TCP port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--host", o->host, "Address to listen on; anything but 127.0.0.1 lets other machines in (a warning)")
      ->capture_default_str();
  app.add_option("--data", o->data, "Images to browse: a folder (class folders or plain) or a CSV manifest");
  app.add_option("--token", o->token, "Secret every request must carry (header 'Authorization: Bearer T' or ?token=T)");
  app.add_option("--cache", o->cache, "Images whose forward pass is kept (least recently used dropped)")
      ->capture_default_str()->check(cxr::cli::at_least(1));
  app.add_option("--max-upload-mb", o->max_upload_mb, "Largest request body in MiB (larger answers 413)")
      ->capture_default_str()->check(CLI::Range(0.001, 1024.0));
  app.add_option("--http-threads", o->http_threads, "Connections handled at once (model passes stay one at a time)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--faithfulness-steps", o->faithfulness_steps, "Deletion / insertion curve points of the metrics")
      ->capture_default_str()->check(CLI::Range(2, 256));
  app.callback([o] { run(*o); });
}

cxr::cli::Register reg{"serve", "Explore a checkpoint's explanations in the browser (a local web page + JSON API)", 75,
                       setup};

}  // namespace
