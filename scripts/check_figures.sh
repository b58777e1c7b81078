#!/usr/bin/env bash
# ctest's Figures.Graphs: cxr_figures' graphs hold what the docs' captions say (checked on the .dot text), and
# Graphviz renders every one. Without Graphviz the text is still checked, and the test reports itself
# skipped (exit 77): `make test` does not need Graphviz (scripts/install-deps.sh figures installs it).
# Usage: scripts/check_figures.sh CXR_FIGURES
set -euo pipefail
FIG=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$FIG" graphs "$dir"
fail=0
has() {  # has FILE TEXT WHY
  grep -qF -- "$2" "$dir/$1.dot" || { echo "FAIL $1.dot: no '$2' ($3)"; fail=1; }
}
hasnt() {
  ! grep -qF -- "$2" "$dir/$1.dot" || { echo "FAIL $1.dot: '$2' ($3)"; fail=1; }
}
has autograd_example 'W1\n[2, 2]\nrequires_grad' "a parameter, drawn as a leaf that requires a gradient"
has autograd_example 'x\n[1, 2]\nno grad' "the input needs no gradient"
has autograd_example 'loss: cross_entropy\n[]\nkeeps 64 B' "cross_entropy keeps dlp [1, 2]: 8 bytes, one 64-byte block"
has autograd_example 'h: relu\n[1, 2]\nkeeps 8 B' "relu keeps one 64-bit word of mask bits"
has seedcnn_step 'features.0.weight\n[32, 1, 3, 3]\nrequires_grad' "the first conv's weight trains"
has seedcnn_step 'relu\n[16, 32, 64, 64]\nkeeps 256 KiB' "relu1_1's mask: one bit per element"
has gradcam_capture 'the cut: ' "the target layer's output is a new leaf"
hasnt gradcam_capture 'x (the image)' "nothing below the cut is recorded"
has gradcam_capture 'no grad' "the parameters are frozen for the call"
has gradcam_capture_guided 'x (the image)\n[1, 1, 64, 64]\nrequires_grad' "guided backprop needs the input's gradient"
has gradcam_capture_guided ', original' "the layer's own output keeps its graph to the input"
# The roofline places a GEMM at 2MNK / (4 (MK + KN + MN)) FLOP per byte: 1024^3 at 170.7, conv1_1's
# M64 N50176 K27 at 9.5 (by hand), each at the GFLOP/s its JSON row says; repetitions collapse to the median.
cat > "$dir/sgemm.json" <<'JSON'
{"benchmarks": [
 {"name": "sgemm/square_1024/threads:1/iterations:2/real_time", "run_type": "iteration", "GFLOP/s": 80.0},
 {"name": "sgemm/square_1024/threads:1/iterations:2/real_time", "run_type": "iteration", "GFLOP/s": 90.0},
 {"name": "sgemm/square_1024/threads:1/iterations:2/real_time", "run_type": "iteration", "GFLOP/s": 70.0},
 {"name": "sgemm/vgg16_conv1_1/M64_N50176_K27/threads:1/iterations:9/real_time", "run_type": "iteration", "GFLOP/s": 40.0},
 {"name": "sgemm/square_1024/threads:all/iterations:2/real_time", "run_type": "iteration", "GFLOP/s": 150.0},
 {"name": "sgemm/square_1024/threads:1/iterations:2/real_time_median", "run_type": "aggregate", "GFLOP/s": 1.0}
]}
JSON
CXR_THREADS=1 "$FIG" roofline "$dir/sgemm.json" "$dir/roofline.svg" > /dev/null
for want in '<title>square_1024: 170.7 FLOP/B, 80.0 GFLOP/s</title>' '<title>conv1_1: 9.5 FLOP/B, 40.0 GFLOP/s</title>' \
            'fastest SGEMM here: 80 GFLOP/s' '<title>relu (cxr): 0.1 FLOP/B'; do
  grep -qF -- "$want" "$dir/roofline.svg" || { echo "FAIL roofline.svg: no '$want'"; fail=1; }
done
[ "$(grep -c '<circle' "$dir/roofline.svg")" -eq 3 ] || { echo "FAIL roofline.svg: not 3 points (threads:all and aggregates are left out)"; fail=1; }
[ $fail -eq 0 ] || exit 1
if ! command -v dot > /dev/null; then
  echo "Graphviz's dot is missing: the graphs' text was checked, their rendering skipped (scripts/install-deps.sh figures)"
  exit 77
fi
for f in "$dir"/*.dot; do
  dot -Tsvg "$f" -o "${f%.dot}.svg"
  grep -q '<svg' "${f%.dot}.svg" || { echo "FAIL: dot made no SVG of $f"; exit 1; }
done
echo "all $(ls "$dir"/*.dot | wc -l) graphs checked and rendered"
