// The HTTP side of `cxr serve`: the embedded page and the JSON API under /api (docs/CLI.md, "cxr serve").
//
//   GET  /                       the page (serve/page.h); /app.js, /app.css its parts. Nothing else is served:
//                                no request path is ever mapped to a file (the --data images are addressed by
//                                their index in the listing only).
//   GET  /api/info               the model, its classes, the limits, the cache counters
//   GET  /api/layers             the layers a map can be drawn at, the default one marked
//   GET  /api/methods            the methods (and what each costs), colormaps, fuse modes
//   POST /api/predict            body: PNG or JPEG bytes -> id, size, class probabilities
//   GET|POST /api/explain        image=<id> | index=<n> (or POST image bytes), class, method, layer,
//                                counterfactual, fuse, format=json|npy|png (+ colormap, alpha for png)
//   GET|POST /api/metrics        the same query -> the trust metrics of that explanation (xai-eval's row)
//   GET  /api/images             the --data listing, filtered by class, source, split, correct=yes|no
//   GET  /api/images/<n>         predict --data image n (cached like an upload)
//   GET  /api/original?image=<id>  the cached image as PNG (to draw --data images on)
//
// Every error is JSON {"error": "...", "status": N} with a 4xx status for what the request got wrong
// (400 bad parameter or JSON, 401 token, 404 unknown path or id, 413 upload too large, 415 not an image or a
// wrong content type, 422 an image that does not decode) and 500 for the server's own failures; the server
// goes on serving after each.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "serve/explorer.h"

namespace cxr::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                           // 0: any free port (bind() says which)
  std::string token;                         // non-empty: required on every request
  size_t max_upload_bytes = size_t{32} << 20;  // request bodies larger than this answer 413
  int http_threads = 8;                      // connections handled at once (model passes stay serialised)
  std::string checkpoint_sha256;             // shown by /api/info
};

class Server {
 public:
  // The dataset (--data) is optional; its images are read from the paths it lists, by index.
  Server(Explorer& explorer, ServerOptions options, std::optional<data::Dataset> dataset = std::nullopt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; returns the port (the chosen one for port 0). Throws cxr::Error naming the address.
  int bind();
  // Serves until stop(); returns once the listening loop has ended.
  void listen();
  // From any thread (not from a signal handler: use a watcher thread).
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Constant-time comparison of a presented token with the expected one (time independent of where they
// differ; only the length of `presented` may show).
bool same_token(const std::string& presented, const std::string& expected);

}  // namespace cxr::serve
