#!/usr/bin/env bash
# Builds the threaded tests with ThreadSanitizer (clang, LLVM OpenMP + Archer, in build-tsan/) and runs them
# (ctest label `tsan`: the canaries, test_loader, test_conv) at each thread count of TSAN_THREADS (default
# "2 4"). Fails on any TSan report. docs/RELIABILITY.md ("ThreadSanitizer") says what it covers and why.
#
#   scripts/tsan.sh                  build and run   (make test-tsan)
#   TSAN_THREADS=4 scripts/tsan.sh   one thread count
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${TSAN_BUILD:-build-tsan}
JOBS=${JOBS:-$(nproc)}
THREADS=${TSAN_THREADS:-2 4}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DCXR_TSAN=ON -DCXR_BUILD_BENCH=OFF -DCXR_MPI=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target tsan_canary test_loader test_conv

# Archer: LLVM OpenMP's tool that tells TSan about fork, join, barriers and tasks (without it TSan cannot see
# the runtime's own synchronisation). verbose=1 makes it say it is loaded, which the canary test checks.
archer=$(clang++ -print-file-name=libarcher.so)
[ -f "$archer" ] || archer=/usr/lib/llvm-$(clang++ -dumpversion | cut -d. -f1)/lib/libarcher.so
[ -f "$archer" ] || { echo "tsan.sh: libarcher.so not found (Debian: libomp-dev)" >&2; exit 1; }
export OMP_TOOL_LIBRARIES=$archer ARCHER_OPTIONS=verbose=1
# halt_on_error: the first report fails the test that made it. The suppression file holds only reports
# proven benign (each with its proof).
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp${TSAN_EXTRA:+ $TSAN_EXTRA}"
# Passive waits: idle OpenMP threads sleep instead of spinning (this runs beside other work).
export OMP_WAIT_POLICY=passive

status=0
for t in $THREADS; do
  echo "== CXR_THREADS=$t OMP_NUM_THREADS=$t"
  (cd "$BUILD" && CXR_THREADS=$t OMP_NUM_THREADS=$t ctest -L tsan --output-on-failure -j 1) || status=1
done
exit $status
