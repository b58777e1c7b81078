// Workspace: scratch memory shared by all layers, as darknet does it.
//
// Layers such as conv2d need a large temporary buffer (the im2col matrix). Instead of allocating one per
// call, they ask for scratch(n): a per-thread, 64-byte aligned buffer that grows to the largest request
// ever made and is then reused. The pointer is valid until the next scratch() call on the same thread and
// slot; different slots never alias.
#pragma once
#include <cstddef>

namespace cxr {

float* scratch(size_t floats, int slot = 0);
size_t scratch_bytes();  // total bytes held by all workspaces (for reports and tests)
void release_scratch();  // frees this thread's buffers

}  // namespace cxr
