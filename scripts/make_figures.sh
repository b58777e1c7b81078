#!/usr/bin/env bash
# make figures: the pictures of docs/img/, made from cxr's own output so that they show what the code does.
#
#   graphs     tools/figures.cpp writes autograd/dot.h's Graphviz text of real graphs (the worked example of
#              docs/AUTOGRAD.md, a seed-CNN training step, explain's capture with and without guided
#              backprop); Graphviz's `dot` renders them to SVG
#   im2col     the lettered 3 x 3 example of docs/IM2COL.md through layers/im2col.cpp, drawn as SVG
#   demo       cxr synth + a one-minute cxr train + cxr explain: a panel original | heatmap | overlay |
#              guided Grad-CAM of a test image with a lesion, and one of a NORMAL image with the burned-in
#              marker (the shortcut), explained with guided Grad-CAM
#   roofline   bench_sgemm's one-thread GEMMs (VGG-16's 13 conv shapes and 1024^3, median of 3) under the
#              roofs cxr_figures measures at one thread: the fastest of them and a triad's bandwidth
#   sanity     explain/sanity.h's cascading randomisation of the same model: Grad-CAM after each layer is
#              re-initialised, top first, with its Spearman rho to the trained model's map
#
# Usage: scripts/make_figures.sh [BUILD_DIR]   (default build; `make figures` builds cxr and cxr_figures
# first). Writes docs/img/ (overwriting) and works in out/figures/. A few minutes on 2 cores. Without
# Graphviz it stops with the line to install it (scripts/install-deps.sh figures).
set -euo pipefail
BUILD=${1:-build}
[ -n "${1:-}" ] && BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")  # before the cd below
cd "$(dirname "$0")/.."
CXR="$BUILD/cxr"
FIG="$BUILD/tools/cxr_figures"
SGEMM="$BUILD/bench/bench_sgemm"
IMG=docs/img
OUT=out/figures
for p in "$CXR" "$FIG" "$SGEMM"; do
  [ -x "$p" ] || { echo "make_figures: $p not found: build first (make figures)" >&2; exit 1; }
done
command -v dot > /dev/null || { echo "make_figures: Graphviz's dot is missing: scripts/install-deps.sh figures" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT" "$IMG"

echo "== graphs"
"$FIG" graphs "$OUT"
for g in autograd_example seedcnn_step gradcam_capture gradcam_capture_guided; do
  dot -Tsvg "$OUT/$g.dot" -o "$IMG/$g.svg"
done

echo "== im2col"
"$FIG" im2col "$IMG/im2col.svg"

echo "== roofline: bench_sgemm at one thread"
CXR_THREADS=1 "$SGEMM" --benchmark_filter='threads:1' --benchmark_repetitions=3 --benchmark_format=json \
  --benchmark_out="$OUT/sgemm.json" > /dev/null
CXR_THREADS=1 "$FIG" roofline "$OUT/sgemm.json" "$IMG/roofline.svg"

echo "== demo: synthetic data, a short training run, explanations"
"$CXR" synth --out "$OUT/data" --size 64 --train 200 --val 30 --test 20 --difficulty 0 --lesion-contrast 3 \
  --shortcut-rate 0.8 --shortcut-class NORMAL --seed 3 > "$OUT/synth.log"
"$CXR" train --data "$OUT/data" --arch vgg11 --bn --width 0.125 --size 64 --channels 1 --head gap \
  --epochs "${FIGURES_EPOCHS:-15}" --batch 16 --lr 2e-3 --patience 0 --seed 3 --out "$OUT/run" > "$OUT/train.log"
tail -n 2 "$OUT/train.log"
MODEL="$OUT/run/best.safetensors"
LAYER=relu4_2  # 8 x 8 at 64 px: finer than relu5_2's 4 x 4 (scripts/demo.sh picks relu4_3 for the same reason)
# The first test image of a disease class, and the first NORMAL test image with the marker.
lesion=$(awk -F, '$3 == "test" && $2 == "COVID19" { print $1; exit }' "$OUT/data/manifest.csv")
marker=$(awk -F, '$3 == "test" && $2 == "NORMAL" && $4 == "synth-marker" { print $1; exit }' "$OUT/data/manifest.csv")
"$CXR" explain --model "$MODEL" --layer "$LAYER" --tile 96 --out "$OUT/demo" "$OUT/data/$lesion" > /dev/null
cp "$OUT"/demo/*_panel.png "$IMG/demo_panel.png"
"$CXR" explain --model "$MODEL" --method guided-gradcam --layer "$LAYER" --tile 96 --out "$OUT/shortcut" "$OUT/data/$marker" > /dev/null
cp "$OUT"/shortcut/*_panel.png "$IMG/shortcut_panel.png"

echo "== sanity: cascading randomisation"
"$FIG" sanity "$MODEL" "$OUT/data/$lesion" "$LAYER" "$IMG/sanity_cascade.png"

du -ch "$IMG"/*.svg "$IMG"/*.png | tail -n 1
