#!/usr/bin/env bash
# Runs the benchmarks that docs/PERFORMANCE.md quotes and keeps their JSON in out/bench/.
#   scripts/bench.sh [BUILD_DIR]        (make bench)
# Medians over repetitions; compare ratios within one run (the machine may be shared and noisy).
set -euo pipefail
build=${1:-build}
out=out/bench
mkdir -p "$out"
run() {  # run NAME [OUT_SUFFIX] [ARGS...]: build/bench/NAME -> out/bench/NAME[OUT_SUFFIX].json
  local name=$1 suffix=${2:-}
  shift; [ $# -gt 0 ] && shift
  echo "== $name$suffix $*"
  "$build/bench/$name" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$name$suffix.json" --benchmark_out_format=json "$@"
}
# As cxr runs itself (cli/main.cpp): OpenMP threads wait passively instead of spinning. OPENBLAS_CORETYPE is
# left as the environment has it (cxr picks SkylakeX on AVX-512 CPUs only when it is unset; PERFORMANCE.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run;" \
  "OMP_WAIT_POLICY=$OMP_WAIT_POLICY OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
run bench_sgemm
run bench_conv
run bench_model            # all cores
CXR_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 run bench_model _1thread
[ -x "$build/bench/bench_explain" ] && run bench_explain
[ -x "$build/bench/bench_io" ] && run bench_io
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  n=$(nproc)
  echo "== PyTorch reference ($n threads, then 1)"
  OPENBLAS_NUM_THREADS=$n /usr/bin/python3 bench/torch_reference.py --threads "$n" | tee "$out/torch_reference.json"
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_reference.py --threads 1 | tee "$out/torch_reference_1thread.json"
else
  echo "(PyTorch reference skipped: Debian's python3-torch is not installed; run scripts/install-deps.sh fixtures)"
fi
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results in $out/"
