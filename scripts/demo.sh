#!/usr/bin/env bash
# make demo: the whole cxr story on synthetic chest X-rays in a few minutes on a laptop-class CPU.
#
#   1. cxr synth      phantoms of three classes with lung / lesion masks; a burned-in marker (a shortcut) on
#                     some of the NORMAL images only: a tag that says "healthy" without looking at the lungs
#   2. cxr train      a VGG-16 with batch-norm at a quarter of the width, with a live progress bar
#   3. cxr eval       accuracy, F1, confusion, ROC AUC, accuracy per source (marker or not) -> eval.json
#   4. cxr explain    Grad-CAM and guided Grad-CAM of the test images -> explanations/ (overlays, panels)
#   5. cxr xai-eval   how far to trust the maps (guided Grad-CAM and Grad-CAM): pointing game on the lesion
#                     masks, deletion / insertion, AD / IC, and the shortcut finder -> xai-*.json
#   6. cxr report     everything in one self-contained HTML page -> out/demo/report.html
#
# Usage: scripts/demo.sh [BUILD_DIR]   (default build; `make demo` builds first). Starts clean every time
# (out/demo is removed first). Threads: CXR_THREADS, else all cores. The DEMO_* knobs below trade time for
# accuracy; the defaults take about 5 minutes on 2 idle cores and reach about 98% test accuracy.
set -euo pipefail
BUILD=${1:-build}
[ -n "${1:-}" ] && BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")  # before the cd below
cd "$(dirname "$0")/.."
CXR="$BUILD/cxr"
OUT=out/demo
[ -x "$CXR" ] || { echo "demo: $CXR not found: build first (make build, or make demo)" >&2; exit 1; }

IMAGE=${DEMO_IMAGE:-128}        # synthetic image side (what the gallery shows)
SIZE=${DEMO_SIZE:-96}           # model input side (a multiple of 32): images are resized to it
TRAIN=${DEMO_TRAIN:-250}        # images per class
VAL=${DEMO_VAL:-40}
TEST=${DEMO_TEST:-40}
EPOCHS=${DEMO_EPOCHS:-12}
SHORTCUT_CLASS=${DEMO_SHORTCUT_CLASS:-NORMAL}
SHORTCUT=${DEMO_SHORTCUT:-0.6}  # share of that class's images carrying the marker
LAYER=${DEMO_LAYER:-relu4_3}    # Grad-CAM layer: conv4_3's 12x12 at 96 px localises better than conv5_3's 6x6
XAI=${DEMO_XAI:-60}             # test images scored by xai-eval

start=$(date +%s)
t_last=
step() {  # a step's heading, after the time the previous one took
  local now
  now=$(date +%s)
  if [ -n "$t_last" ]; then printf '   (%ds)\n' $((now - t_last)); fi
  t_last=$now
  printf '\n\033[1m== %s\033[0m\n' "$*"
}

rm -rf "$OUT"
mkdir -p "$OUT"

step "1/6 Synthetic chest X-rays: $TRAIN/$VAL/$TEST per class, ${IMAGE}px; a burned-in marker on ${SHORTCUT} of $SHORTCUT_CLASS"
# Clear lesions (contrast 3, no distractors) so that a small VGG learns them in a few minutes on a CPU; the
# marker is the shortcut: only $SHORTCUT_CLASS images carry it, in every split.
"$CXR" synth --out "$OUT/data" --size "$IMAGE" --train "$TRAIN" --val "$VAL" --test "$TEST" --difficulty 0 \
  --lesion-contrast 3 --shortcut-rate "$SHORTCUT" --shortcut-class "$SHORTCUT_CLASS" --seed 7

step "2/6 Training VGG-16-BN (width 0.25, ${SIZE}px grey input) for $EPOCHS epochs"
"$CXR" train --data "$OUT/data" --arch vgg16 --bn --width 0.25 --size "$SIZE" --channels 1 --head gap256 \
  --epochs "$EPOCHS" --batch 16 --lr 5e-4 --patience 0 --seed 7 --out "$OUT/run"

step "3/6 Evaluating the best checkpoint on the test split"
"$CXR" eval --model "$OUT/run/best.safetensors" --data "$OUT/data" --split test --json "$OUT/eval.json"

step "4/6 Grad-CAM ($LAYER) and guided Grad-CAM of the test images"
"$CXR" explain --model "$OUT/run/best.safetensors" --method gradcam --layer "$LAYER" --no-panel \
  --out "$OUT/explanations" "$OUT/data/test"

step "5/6 Explanation metrics and the shortcut finder on $XAI test images: guided Grad-CAM, then Grad-CAM"
# Guided Grad-CAM first: at input resolution it separates a border marker from a lesion, which Grad-CAM's
# coarse map cannot (docs/RESULTS.md measures every method); the report compares the two.
"$CXR" xai-eval --model "$OUT/run/best.safetensors" --data "$OUT/data" --split test --limit "$XAI" \
  --method guided-gradcam --layer "$LAYER" --json "$OUT/xai-guided-gradcam.json" --top 5
"$CXR" xai-eval --model "$OUT/run/best.safetensors" --data "$OUT/data" --split test --limit "$XAI" \
  --method gradcam --layer "$LAYER" --json "$OUT/xai-gradcam.json" --top 5

step "6/6 The report"
"$CXR" report --run "$OUT/run" --data "$OUT/data" --split test --eval "$OUT/eval.json" \
  --explanations "$OUT/explanations" --metrics "$OUT/xai-guided-gradcam.json" \
  --compare-metrics "$OUT/xai-gradcam.json" --layer "$LAYER" --samples 12 \
  --title "cxr demo: VGG-16-BN on synthetic chest X-rays" \
  --out "$OUT/report.html" \
  | tee "$OUT/report.log"
end=$(date +%s)
printf '   (%ds)\n' $((end - t_last))

echo
printf '\033[1mReport: %s\033[0m\n' "$(pwd)/$OUT/report.html"
grep -E '^  (test accuracy|pointing game|shortcut finder|compared)' "$OUT/report.log" || true
printf '  total time      %dm%02ds\n' $(((end - start) / 60)) $(((end - start) % 60))
echo
printf '\033[1mExplore the model in the browser (then open the address it prints):\033[0m\n'
printf '  %s serve --model %s --data %s\n' "$CXR" "$OUT/run/best.safetensors" "$OUT/data/manifest.csv"
