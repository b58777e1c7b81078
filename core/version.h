// The version of cxr, as `cxr --version`, reports and checkpoints' provenance print it. Kept equal to
// project(cxr VERSION ...) in CMakeLists.txt (tests/test_core.cpp checks).
#pragma once

namespace cxr {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace cxr
