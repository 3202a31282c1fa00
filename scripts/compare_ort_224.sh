#!/usr/bin/env bash
# Compares pare with ONNX Runtime (onnxruntime-node) on the ImageNet-size MobileNetV2 on
# seeded random inputs: same top-1 and max |diff| <= 1e-3 scaled by max(1, |ort|).
#   scripts/compare_ort_224.sh [MODEL.onnx] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/models/mobilenet_v2_224.onnx}
rows=${2:-8}
if [ ! -f "$model" ]; then
  echo "compare_ort_224: $model not found (it lives in the shared model collection); skipped"
  exit 0
fi
scripts/ort/install.sh
[ -x build/tools/pare ] || scripts/build.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node scripts/ort/random_input.js "$work/x.npy" 42 "$rows" 3 224 224
node scripts/ort/run_model.js "$model" "$work/x.npy" "$work/ort.npy"
build/tools/pare convert "$model" -o "$work/model.pare" >/dev/null
build/tools/pare run "$work/model.pare" --input "$work/x.npy" --output "$work/pare.npy"
echo -n "mobilenet_v2_224 vs ONNX Runtime: "
node scripts/ort/compare.js "$work/pare.npy" "$work/ort.npy" 1e-3
