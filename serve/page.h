// The page of `cxr serve`: serve/page/*.html, *.js, *.css embedded in the binary at build time
// (serve/embed_page.cmake), so the server never reads a file to answer a request and the page works offline.
#pragma once
#include <cstddef>
#include <vector>

namespace cxr::serve {

struct Asset {
  const char* path;          // "/index.html", "/app.js", "/app.css"
  const char* content_type;  // "text/html; charset=utf-8" ...
  const unsigned char* data;
  size_t size;
};

const std::vector<Asset>& page_assets();

}  // namespace cxr::serve
