#!/usr/bin/env bash
# Where a data-parallel training step's time goes (docs/DISTRIBUTED.md, "Measured: speed"): the same
# training steps as 1 process x 1 thread, 1 process x 2 threads and 2 ranks x 1 thread (mpirun; also with one
# gradient reduction after backward instead of 4 MiB buckets during it, --bucket-mb 0), each run
# `--profile`d, alternated over REPS repetitions so that a noisy machine hits every configuration alike.
#   scripts/bench_dist.sh [BUILD_DIR] [REPS]
# Prints each run's "time:" line (compare the median steps: a first step also pays for touching its memory); the runs' folders go to out/bench_dist/.
set -euo pipefail
build=${1:-build}
reps=${2:-2}
out=out/bench_dist
cxr="$build/cxr"
mpi="mpirun --allow-run-as-root --oversubscribe -np 2"
mkdir -p "$out"
export OMP_WAIT_POLICY=passive
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
# 320 training images at 256 px (the loader resizes to --size), 6 for validation.
[ -f "$out/d/manifest.csv" ] || "$cxr" synth --out "$out/d" --seed 1 --train 110 --val 2 --test 1 > /dev/null
small="--data $out/d --arch vgg16 --bn --width 0.25 --size 128 --batch 16 --epochs 1 --max-steps 20 --seed 1 --profile"
full="--data $out/d --arch vgg16 --head torchvision --size 224 --batch 8 --epochs 1 --max-steps 5 --augment none --seed 1 --profile"
for model in small full; do
  opts=${!model}
  for r in $(seq "$reps"); do
    for conf in 1x1 1x2 2x1 2x1-one-bucket; do
      dir="$out/$model-$conf-$r"
      rm -rf "$dir"
      case $conf in
        1x1) "$cxr" --threads 1 train $opts --out "$dir" > "$dir.log" 2>&1 ;;
        1x2) "$cxr" --threads 2 train $opts --out "$dir" > "$dir.log" 2>&1 ;;
        2x1) $mpi "$cxr" --threads 1 train $opts --out "$dir" > "$dir.log" 2>&1 ;;
        2x1-one-bucket) $mpi "$cxr" --threads 1 train $opts --bucket-mb 0 --out "$dir" > "$dir.log" 2>&1 ;;
      esac
      echo "$model $conf rep $r: $(grep '  time:' "$dir.log")"
    done
  done
done
