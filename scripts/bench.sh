#!/usr/bin/env bash
# Runs the benchmarks that docs/PERFORMANCE.md quotes and keeps their JSON in out/bench/.
#   scripts/bench.sh [BUILD_DIR]        (make bench)
# Medians over repetitions; compare ratios within one run (the machine may be shared and noisy).
set -euo pipefail
build=${1:-build}
out=out/bench
mkdir -p "$out"
run() {
  local name=$1; shift
  echo "== $name $*"
  "$build/bench/$name" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"
}
run bench_sgemm
run bench_conv --benchmark_filter='forward'
run bench_model
[ -x "$build/bench/bench_explain" ] && run bench_explain
[ -x "$build/bench/bench_io" ] && run bench_io
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "== PyTorch reference (2 threads)"
  OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/torch_reference.py --threads 2 | tee "$out/torch_reference.json"
else
  echo "(PyTorch reference skipped: Debian's python3-torch is not installed; run scripts/install-deps.sh fixtures)"
fi
echo "results in $out/"
