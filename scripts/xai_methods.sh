#!/usr/bin/env bash
# Every explanation method measured on one trained model: the table of docs/RESULTS.md (issue 5).
#
#   scripts/xai_methods.sh MODEL DATA [LAYER...]
#   e.g. scripts/xai_methods.sh out/demo/run/best.safetensors out/demo/data relu4_3 relu5_3
#
# For each method and layer, `cxr xai-eval` on the test split (lesion and lung masks from the synth
# manifest) gives the pointing game on the lesion masks per class, the lesion energy share, deletion /
# insertion AUC and Average Drop on XAI_LIMIT images (default 60), and the shortcut finder's flags on the
# marker images. Guided backprop has no layer: it is measured once. Prints one Markdown table; each run's
# full report is kept in out/xai-methods/<method>_<layer>.{txt,json}. Threads: CXR_THREADS (else all).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
MODEL=$1 DATA=$2
shift 2
LAYERS=("$@")
[ ${#LAYERS[@]} -gt 0 ] || LAYERS=(relu5_3)
CXR=${CXR:-build/cxr}
LIMIT=${XAI_LIMIT:-60}
OUT=out/xai-methods
mkdir -p "$OUT"

# pick FILE KIND CLASS [FIELD]: a localisation row's pointing game (field 4) or energy share (field 6)
pick() { awk -v k="$2" -v c="$3" -v f="${4:-4}" '$1 == k && $2 == c { print $f }' "$1"; }

printf '| method | layer | pointing COVID19 | pointing PNEUMONIA | pointing both | lesion energy | deletion AUC | insertion AUC | average drop | marker images flagged | others flagged | seconds |\n'
printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for method in gradcam gradcam++ xgradcam hirescam layercam scorecam ablationcam eigencam guided guided-gradcam; do
  for layer in "${LAYERS[@]}"; do
    layer_args=(--layer "$layer")
    if [ "$method" = guided ]; then layer_args=(); layer=input; fi
    base="$OUT/${method}_${layer//+/-}"
    # Localisation and the shortcut finder on the whole test split; faithfulness (slow) on LIMIT images.
    "$CXR" xai-eval --model "$MODEL" --data "$DATA" --split test --method "$method" "${layer_args[@]}" \
      --no-faithfulness --json "$base.json" > "$base.txt"
    "$CXR" xai-eval --model "$MODEL" --data "$DATA" --split test --method "$method" "${layer_args[@]}" \
      --limit "$LIMIT" > "$base.faith.txt"
    secs=$(tail -n 1 "$base.faith.txt" | awk '{ print $1 }')
    marker=$(sed -n 's/.*synth-marker): \([0-9]* of [0-9]*\) flagged; other images flagged: \([0-9]*\).*/\1|\2/p' "$base.txt")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$method" "$layer" \
      "$(pick "$base.txt" lesion COVID19)" "$(pick "$base.txt" lesion PNEUMONIA)" "$(pick "$base.txt" lesion all)" \
      "$(pick "$base.txt" lesion all 6)" \
      "$(awk '/deletion AUC/ { print $3 }' "$base.faith.txt")" "$(awk '/insertion AUC/ { print $3 }' "$base.faith.txt")" \
      "$(awk '/average drop/ { print $3 }' "$base.faith.txt")" "${marker:-|}" "$secs"
    [ "$method" = guided ] && break
  done
done
