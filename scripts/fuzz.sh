#!/usr/bin/env bash
# Builds the libFuzzer targets of the parsers (tests/fuzz, clang + ASan + UBSan, in build-fuzz/) and runs each
# for FUZZ_SECONDS (default 60), one after the other, one process at a time. Fails on the first crash,
# sanitizer report, leak, timeout (-timeout=2 s per input) or OOM (-rss_limit_mb=512); the input that did it
# is left as build-fuzz/artifacts/<target>/crash-* (or leak-, timeout-, oom-), with the fuzzer's log beside.
#
#   scripts/fuzz.sh                     every target, FUZZ_SECONDS each   (make fuzz)
#   FUZZ_SECONDS=10 scripts/fuzz.sh     the CI smoke run                  (make fuzz-smoke)
#   scripts/fuzz.sh png jpeg            only these targets
#   build-fuzz/tests/fuzz/fuzz_png build-fuzz/artifacts/png/crash-...   replays one input
#
# Corpora grow in build-fuzz/corpus/<target>/ (seeded by fuzz_make_seeds from cxr's own writers) and are kept
# between runs. Each target has a dictionary of its format's keywords in tests/fuzz/<target>.dict.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}
ALL=(png jpeg image safetensors checkpoint manifest run_folder npy)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL[@]}")

# Largest input per format: big enough for the seeds and a mutation's worth of growth, small enough to fuzz fast.
max_len() {
  case "$1" in
    png|jpeg|image) echo 65536 ;;
    safetensors) echo 16384 ;;
    checkpoint) echo 131072 ;;
    *) echo 8192 ;;
  esac
}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DCXR_FUZZ=ON -DCXR_BUILD_BENCH=OFF -DCXR_NATIVE=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target fuzz_make_seeds $(printf 'fuzz_%s ' "${targets[@]}")

# One thread everywhere: the fuzzer runs one input at a time, and OpenMP/OpenBLAS pools would only add noise.
export CXR_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
# A smaller quarantine than ASan's 256 MiB: freed memory held there counts in the 512 MiB RSS limit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
seeds="$BUILD/seeds"
[ -d "$seeds" ] || "$BUILD/tests/fuzz/fuzz_make_seeds" "$seeds"

status=0
for t in "${targets[@]}"; do
  corpus="$BUILD/corpus/$t" artifacts="$BUILD/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  [ -n "$(ls -A "$corpus")" ] || cp "$seeds/$t"/* "$corpus/"
  log="$artifacts/fuzz.log"
  echo "fuzz_$t: ${SECONDS_EACH} s (log: $log)"
  if ! "$BUILD/tests/fuzz/fuzz_$t" "$corpus" -dict="tests/fuzz/$t.dict" -max_total_time="$SECONDS_EACH" \
       -timeout=2 -rss_limit_mb=512 -malloc_limit_mb=512 -max_len="$(max_len "$t")" \
       -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    echo "fuzz_$t: FAILED; the input is in $artifacts/, the report at the end of $log:" >&2
    tail -n 40 "$log" >&2
    status=1
    break
  fi
  # The final stats: executions, coverage (cov: edges, ft: features), corpus size.
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  echo "fuzz_$t: ok, ${execs:-?} executions; last status: ${last}"
done
exit $status
