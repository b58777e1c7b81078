// safetensors: the file format models move in and out of cxr with (Hugging Face's, read by PyTorch,
// JAX, Rust...). A file is
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [3, 4], "data_offsets": [b, e]}
//              plus an optional "__metadata__": {string: string}; may end with padding spaces
//   [rest]     the data buffer: each tensor's raw little-endian bytes at [b, e) from the buffer's start
//
// Writing: names are sorted, 8-byte values (I64) come first so every tensor stays aligned to its size, the
// header is padded with spaces so the data starts at a multiple of 8 (as the reference writer does), and
// the file is written atomically (temp + fsync + rename) so a crash never leaves half a checkpoint.
//
// Reading validates everything before any tensor is built, and each broken rule throws cxr::Error whose
// message starts with the file name, "safetensors", and the rule: too short, absurd header length, bad JSON,
// duplicate names (detected while parsing: plain JSON parsers keep the last duplicate silently), missing or
// mistyped fields, unknown dtype, bad shape, byte length != shape x dtype size, offsets out of range,
// overlapping tensors, holes or trailing bytes in the data buffer (the spec wants it exactly covered),
// non-string metadata. Fields other than dtype/shape/data_offsets in an entry are ignored, as the
// reference reader does. Any supported dtype is converted to float32; integer tensors also keep their
// exact values (num_batches_tracked is I64 in PyTorch).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace cxr::io {

// Limits a file cannot talk its way past, checked on the header before anything is allocated for it or its
// tensors (each refusal names the file, the value and the limit):
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;  // the JSON header (the reference reader's)
inline constexpr int kMaxSafetensorsHeaderDepth = 16;               // JSON nesting (a header needs 3)
inline constexpr size_t kMaxSafetensorsTensors = 10'000;  // entries (VGG-16-BN has 98)
inline constexpr uint64_t kMaxSafetensorsTensorBytes = uint64_t{16} << 30;  // 16 GiB: all tensors as float32

enum class DType { BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64 };

const char* dtype_name(DType d);  // "F32", as written in the header
int64_t dtype_size(DType d);      // bytes per element
bool dtype_is_integer(DType d);   // BOOL and the U/I types

// One named tensor, as written or as read.
struct NamedTensor {
  std::string name;
  Tensor value;               // float32 values (read: converted from the stored dtype)
  DType dtype = DType::F32;   // the stored dtype; cxr writes F32 and I64
  std::vector<int64_t> ints;  // I64 exact values. Read: filled for integer dtypes. Write (I64): used when
                              // not empty (numel values), else `value` must hold whole numbers
};

struct SafeTensors {
  std::vector<NamedTensor> tensors;             // sorted by name
  std::map<std::string, std::string> metadata;  // "__metadata__"
  const NamedTensor* find(const std::string& name) const;  // nullptr when absent
};

// What the header says about one tensor (validated), for describing a file without loading its data.
struct TensorEntry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range in the data buffer
};

struct SafeTensorsHeader {
  std::vector<TensorEntry> entries;             // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;                      // 8 + N
  uint64_t file_size = 0;
};

// The encoded file, byte for byte (what save_safetensors writes).
std::vector<uint8_t> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                        const std::map<std::string, std::string>& metadata = {});
void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates the header only (cheap, for `cxr info`); the data's size is checked against it.
SafeTensorsHeader read_safetensors_header(const std::string& path);
// Reads and validates the whole file. Nothing partial is ever returned: it throws or returns everything.
SafeTensors load_safetensors(const std::string& path);
// The same from bytes in memory; `name_for_errors` plays the file name in messages.
SafeTensors decode_safetensors(const std::vector<uint8_t>& bytes, const std::string& name_for_errors);

}  // namespace cxr::io
