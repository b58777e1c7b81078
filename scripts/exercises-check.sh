#!/usr/bin/env bash
# `make exercises-check` (docs/EXERCISES.md, "For CI"): proves that every exercise can be solved and that no
# grader passes a stub. Two builds with the learning path's dependencies only (CXR_LEARN_ONLY: core,
# autograd, layers), each in its own folder so a student's build-ex/ is never touched:
#   build-ex-sol/   the reference solutions (CXR_EXERCISE_SOLUTIONS): every grader test must pass;
#   build-ex-stub/  the stubs, every test marked WILL_FAIL (CXR_EXERCISE_STUBS_MUST_FAIL): ctest passes only
#                   if every single test fails.
# and both must have discovered the same number of tests (so a grader cannot drop out of one of them).
# Non-zero on any difference. JOBS sets the build's parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
common=(-DCMAKE_BUILD_TYPE=Release -DCXR_LEARN_ONLY=ON -DCXR_MPI=OFF -DCXR_BUILD_BENCH=OFF -DCXR_EXERCISES=ON)
# The tests run side by side, each single-threaded (as `make test`: two OpenMP teams on two cores crawl).
export CXR_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive

count() { (cd "$1" && ctest -N -L exercise | sed -n 's/^Total Tests: //p'); }

# Options are passed every time: a folder configured earlier with other values gets these.
cmake -S . -B build-ex-sol "${common[@]}" -DCXR_EXERCISE_SOLUTIONS=ON -DCXR_EXERCISE_STUBS_MUST_FAIL=OFF >/dev/null
cmake --build build-ex-sol -j "$jobs" --target test_exercises
(cd build-ex-sol && ctest --output-on-failure -j "$jobs" -L exercise)

cmake -S . -B build-ex-stub "${common[@]}" -DCXR_EXERCISE_SOLUTIONS=OFF -DCXR_EXERCISE_STUBS_MUST_FAIL=ON >/dev/null
cmake --build build-ex-stub -j "$jobs" --target test_exercises
# WILL_FAIL inverts each result: a test listed as failing here passed on a stub.
(cd build-ex-stub && ctest --output-on-failure -j "$jobs" -L exercise)

solved=$(count build-ex-sol) stubbed=$(count build-ex-stub)
if [ "$solved" != "$stubbed" ] || [ "$solved" -eq 0 ]; then
  echo "exercises-check: $solved tests on the solutions but $stubbed on the stubs" >&2
  exit 1
fi
echo "exercises-check: all $solved grader tests pass on the solutions and fail on the stubs"
