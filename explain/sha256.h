// SHA-256 (FIPS 180-4), for the checkpoint fingerprint in explanation manifests: an explanation is only
// meaningful together with the exact weights that produced it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace cxr {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex_digest();  // 64 lowercase hex digits; the object must not be updated afterwards

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes
  bool done_ = false;
};

std::string sha256_hex(const void* data, size_t n);
std::string sha256_hex(const std::string& bytes);
// The digest of a whole file, read in chunks. Throws cxr::Error naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace cxr
