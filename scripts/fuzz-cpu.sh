#!/usr/bin/env bash
# Long fuzzing runs measured in CPU time: runs the given fuzz targets (default: all eight) one after another at
# nice 19, in chunks of at most 15 min of wall time, until each has used NEED_CPU seconds (default 1800) of CPU
# (user + sys of each chunk, by /usr/bin/time). A record per chunk goes to build-fuzz/long-records.tsv; a
# finding stops that target and leaves its input in build-fuzz/artifacts-long/<target>/. Needs build-fuzz/
# (make fuzz-smoke builds it). The per-input timeout is 20 s of wall time (make fuzz: 2 s), because at nice 19
# on a loaded machine an input can wait seconds for a core; docs/RELIABILITY.md, "Long runs".
#   scripts/fuzz-cpu.sh checkpoint png & scripts/fuzz-cpu.sh safetensors image &   two lanes on two cores
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
NEED=${NEED_CPU:-1800}
export CXR_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
max_len() { case "$1" in png|jpeg|image) echo 65536;; safetensors) echo 16384;; checkpoint) echo 131072;; *) echo 8192;; esac; }
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(png jpeg image safetensors checkpoint manifest run_folder npy)
for t in "${targets[@]}"; do
  used=0; chunk=0
  art="$BUILD/artifacts-long/$t"; mkdir -p "$art"
  while [ "$used" -lt "$NEED" ]; do
    chunk=$((chunk+1)); log="$art/chunk$chunk.log"
    left=$((NEED-used))
    wall=$(( left < 300 ? left+30 : 900 ))
    nice -n 19 /usr/bin/time -f "CPU %U %S" -o "$art/time$chunk" "$BUILD/tests/fuzz/fuzz_$t" "$BUILD/corpus/$t" \
      -dict="tests/fuzz/$t.dict" -max_total_time="$wall" -timeout=20 -rss_limit_mb=512 -malloc_limit_mb=512 \
      -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$art/" >"$log" 2>&1
    rc=$?
    cpu=$(awk '/^CPU/{printf "%d", $2+$3}' "$art/time$chunk")
    used=$((used+cpu))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
    printf "%s\t%s\tchunk%d\trc=%d\twall=%d\tcpu=%d\tused=%d\texecs=%s\t%s\tcorpus=%d\n" "$(date +%H:%M:%S)" "$t" "$chunk" "$rc" "$wall" "$cpu" "$used" "$execs" "$last" "$(ls $BUILD/corpus/$t | wc -l)" >> "$BUILD/long-records.tsv"
    if [ "$rc" -ne 0 ]; then echo "$t FAILED rc=$rc see $log" >> "$BUILD/long-records.tsv"; break; fi
  done
done
