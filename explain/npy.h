// NumPy .npy files (format version 1.0), so raw explanation maps open with numpy.load() unchanged.
//
// A file is: the magic "\x93NUMPY", version bytes 1 0, a little-endian uint16 header length, then an ASCII
// Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (14, 14), } padded with
// spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then the float32 values in
// C (row-major) order, little-endian.
#pragma once
#include <string>

#include "core/tensor.h"

namespace cxr {

std::string encode_npy(const Tensor& t);             // the whole file, byte for byte
void save_npy(const std::string& path, const Tensor& t);  // atomic (temp + rename)
// Reads a C-order '<f4' array of up to 5 dimensions (what save_npy writes, versions 1.0-3.0). Anything else
// throws cxr::Error naming the file and what is unsupported.
Tensor load_npy(const std::string& path);
Tensor decode_npy(const std::string& bytes, const std::string& name_for_errors);

}  // namespace cxr
