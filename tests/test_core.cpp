// core/: tensor shapes and views, errors, random numbers, initialisers, workspace.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/allocator.h"
#include "core/error.h"
#include "core/init.h"
#include "core/rng.h"
#include "core/strings.h"
#include "core/tensor.h"
#include "core/version.h"
#include "core/workspace.h"

using namespace cxr;

TEST(Tensor, ShapeAndAlignment) {
  Tensor t = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(t.numel(), 120);
  EXPECT_EQ(t.size(-1), 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  EXPECT_THROW(Tensor::zeros({1, 1, 1, 1, 1, 1}), Error);
  EXPECT_THROW(Tensor::zeros({2, -1}), Error);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from({0, 1, 2, 3, 4, 5}, {3, 2});
  Tensor r = t.reshape({-1});
  r[0] = 42;
  EXPECT_EQ(t.at({0, 0}), 42);
  Tensor s = t.slice(1, 3);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s[0], 2);
  Tensor c = t.clone();
  c[1] = -1;
  EXPECT_EQ(t[1], 1);
}

TEST(Tensor, ErrorsNameTheShapes) {
  Tensor t = Tensor::zeros({2, 3});
  try {
    t.reshape({4, 2});
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.slice(1, 3), Error);
  EXPECT_THROW(t.at({2, 0}), Error);
  EXPECT_THROW(Tensor::from({1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(Tensor().item(), Error);
}

TEST(Rng, ReproducibleAndForkIndependent) {
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  Rng f1 = a.fork(1), f2 = a.fork(2);
  EXPECT_NE(f1.next_u64(), f2.next_u64());
  Rng c(3);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = c.normal();
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.02);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(c.below(7), 7u);
}

TEST(Init, KaimingFanOutStd) {
  Rng rng(1);
  Tensor w = Tensor::empty({64, 32, 3, 3});
  kaiming_normal_fan_out_(w, rng);
  double s2 = 0;
  for (int64_t i = 0; i < w.numel(); ++i) s2 += w[i] * w[i];
  EXPECT_NEAR(std::sqrt(s2 / w.numel()), std::sqrt(2.0 / (64 * 9)), 0.003);
}

TEST(Workspace, GrowsAndReuses) {
  float* a = scratch(1000);
  float* b = scratch(500);
  EXPECT_EQ(a, b);  // smaller requests reuse the buffer
  EXPECT_GE(scratch_bytes(), 1000 * sizeof(float));
  EXPECT_NE(scratch(10, 1), a);  // slots never alias
  release_scratch();
}

// GCC 12 with AVX-512 turned {x, x, x, 0} constants into {x, x, x, x} (see CMakeLists.txt). Out of line so
// that the constant is materialised the way the library's own code does it.
__attribute__((noinline)) static Shape shape_1110() { return {1, 1, 1, 0}; }
__attribute__((noinline)) static std::vector<double> doubles_1100() { return {1, 1, 0, 0}; }

TEST(StorageUse, CountsLiveTensorBytesAndTheirPeakWhateverTheCacheHolds) {
  const size_t base = storage_use().live_bytes;
  reset_storage_peak();
  EXPECT_EQ(storage_use().peak_bytes, base);
  {
    Tensor big = Tensor::empty({3, 1000, 1000});  // 12 MB: a cached size
    Tensor small = Tensor::empty({10});           // 40 bytes, counted as the 64 it takes
    EXPECT_EQ(storage_use().live_bytes, base + 12000000 + 64);
    Tensor copy = big;                            // shares the storage: nothing new
    EXPECT_EQ(storage_use().live_bytes, base + 12000000 + 64);
  }
  EXPECT_EQ(storage_use().live_bytes, base);      // given back (to the cache: no longer live)
  EXPECT_EQ(storage_use().peak_bytes, base + 12000000 + 64);
  { Tensor again = Tensor::empty({3, 1000, 1000}); }  // a cache hit counts as well
  EXPECT_EQ(storage_use().peak_bytes, base + 12000000 + 64);
  reset_storage_peak();
  EXPECT_EQ(storage_use().peak_bytes, base);
}

TEST(StorageCache, LargeBlocksAreReusedWithinTheLimitAndSmallOnesAreNot) {
  const size_t old_limit = storage_cache_limit();
  release_storage_cache();
  set_storage_cache_limit(size_t{64} << 20);
  const Shape big = {4, 1024, 1024};  // 16 MiB
  float* first = nullptr;
  {
    Tensor a = Tensor::empty(big);
    first = a.data();
    a.fill(7.0f);
  }
  StorageCacheStats s0 = storage_cache_stats();
  EXPECT_EQ(s0.cached_bytes, size_t{16} << 20);
  EXPECT_EQ(s0.cached_blocks, 1u);
  {
    Tensor z = Tensor::zeros(big);  // the same size: a's block, still full of 7s, served from the cache
    EXPECT_EQ(z.data(), first);
    StorageCacheStats s1 = storage_cache_stats();
    EXPECT_EQ(s1.hits, s0.hits + 1);
    EXPECT_EQ(s1.cached_bytes, 0u);
    for (int64_t i = 0; i < z.numel(); i += 4099) ASSERT_EQ(z[i], 0.0f) << i;  // zeros() still means zeros
    Tensor c = Tensor::empty({4, 1024, 1023});  // another size: not from the cache
    EXPECT_NE(c.data(), first);
    EXPECT_EQ(storage_cache_stats().misses, s1.misses + 1);
  }
  // Small blocks are left to malloc.
  { Tensor small = Tensor::empty({1000}); }
  EXPECT_EQ(storage_cache_stats().cached_blocks, 2u);  // z's and c's blocks
  // The limit: five 16 MiB tensors freed onto c's block (just under 16 MiB) and z's in a 64 MiB cache
  // (one of the five reuses z's block): the oldest go first, c's among them.
  {
    std::vector<Tensor> five(5);
    for (auto& t : five) t = Tensor::empty(big);
  }
  EXPECT_EQ(storage_cache_stats().cached_bytes, size_t{64} << 20);
  EXPECT_EQ(storage_cache_stats().cached_blocks, 4u);
  const uint64_t misses = storage_cache_stats().misses;
  { Tensor again = Tensor::empty({4, 1024, 1023}); }  // c's size aged out: a miss
  EXPECT_EQ(storage_cache_stats().misses, misses + 1);
  // Off: everything held is freed, and nothing more is kept.
  set_storage_cache_limit(0);
  EXPECT_EQ(storage_cache_stats().cached_bytes, 0u);
  { Tensor d = Tensor::empty(big); }
  EXPECT_EQ(storage_cache_stats().cached_blocks, 0u);
  set_storage_cache_limit(old_limit);
}

TEST(StorageCache, OneOffSizesAgeOutAndARecurringSizeStillHits) {
  const size_t old_limit = storage_cache_limit();
  release_storage_cache();
  set_storage_cache_limit(size_t{32} << 20);
  const Shape step = {1, 1024, 1024};  // 4 MiB: an activation that every "training step" frees and asks for again
  for (int i = 0; i < 40; ++i) {
    const uint64_t hits = storage_cache_stats().hits;
    {
      Tensor act = Tensor::empty(step);
      if (i > 0) {
        EXPECT_EQ(storage_cache_stats().hits, hits + 1) << "step " << i;
      }
      // Meanwhile a loader frees a decoded photo of a size never seen again (1-2 MiB): with the cache
      // full, it must not take the room the activation comes back to.
      Tensor photo = Tensor::empty({1, 1000 + i, 400});
    }
    EXPECT_LE(storage_cache_stats().cached_bytes, size_t{32} << 20);
  }
  set_storage_cache_limit(old_limit);
}

TEST(Build, ConstantVectorsSurviveTheCompiler) {
  Shape s = shape_1110();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[3], 0) << "the compiler broadcast a constant vector: build with -fno-tree-slp-vectorize";
  std::vector<double> d = doubles_1100();
  EXPECT_EQ(d[2], 0.0);
  EXPECT_EQ(d[3], 0.0);
}

TEST(Build, VersionMatchesTheCMakeProject) {
  std::ifstream f(std::string(CXR_SOURCE_DIR) + "/CMakeLists.txt");
  ASSERT_TRUE(f) << "CMakeLists.txt not found under " << CXR_SOURCE_DIR;
  std::stringstream text;
  text << f.rdbuf();
  // Plain string search: std::regex draws a false -Wmaybe-uninitialized from GCC 12 under ASan.
  const std::string s = text.str(), key = "project(cxr VERSION ";
  const size_t at = s.find(key);
  ASSERT_NE(at, std::string::npos) << "no project(cxr VERSION ...)";
  const size_t from = at + key.size(), to = s.find_first_not_of("0123456789.", from);
  EXPECT_EQ(s.substr(from, to - from), cxr::kVersion);
}

// User errors and internal invariants are told apart: CXR_CHECK's message is the caller's words; CXR_ASSERT's
// names the source line and the condition and says it is a bug. Both are cxr::Error, so a command reports
// either as one line.
TEST(Errors, CheckIsAUserErrorAssertIsABug) {
  try {
    CXR_CHECK(1 + 1 == 3, "scan.png: ", 3, " channels");
    FAIL() << "CXR_CHECK did not throw";
  } catch (const cxr::InternalError&) {
    FAIL() << "CXR_CHECK threw an internal error";
  } catch (const cxr::Error& e) {
    EXPECT_STREQ(e.what(), "scan.png: 3 channels");
  }
  try {
    const int begun = 2;
    CXR_ASSERT(begun == 1, "begun ", begun, " times");
    FAIL() << "CXR_ASSERT did not throw";
  } catch (const cxr::InternalError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test_core.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("begun == 1"), std::string::npos) << m;
    EXPECT_NE(m.find("begun 2 times"), std::string::npos) << m;
    EXPECT_NE(m.find("bug in cxr"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(CXR_ASSERT(true, "never"));
}

TEST(Strings, LowerTrimSplitJoin) {
  EXPECT_EQ(cxr::lower("Grad-CAM++ .PNG"), "grad-cam++ .png");
  EXPECT_EQ(cxr::trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(cxr::trim(" \t\r\n"), "");
  EXPECT_EQ(cxr::split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(cxr::split("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(cxr::split("relu4_3+relu5_3", '+'), (std::vector<std::string>{"relu4_3", "relu5_3"}));
  EXPECT_EQ(cxr::join({"a", "b", "c"}, " | "), "a | b | c");
  EXPECT_EQ(cxr::join({}), "");
  EXPECT_EQ(cxr::join(cxr::split("x,y", ',')), "x, y");
}
