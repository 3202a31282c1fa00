#!/usr/bin/env bash
# `pare export-onnx` checked with ONNX Runtime (onnxruntime-node) on the trained models over
# the 2,000 Fashion-MNIST test images:
# - float: `pare convert`, export, ORT on the export vs pare on the .pare: same top-1 on every
#   image, max |diff| scaled by max(1, |pare|) at most 1e-4;
# - int8: `pare compress` with the calibration set, export (QDQ), same comparison with the
#   differences in steps of the output's scale: at most INT8_MAX_STEPS (default 8) steps and
#   the same top-1 on at least INT8_MIN_AGREEMENT (default 0.995) of the images. The two
#   runtimes round differently inside (pare requantizes in fixed point, ONNX Runtime in
#   float; its Add, pools and tables have their own rounding), so single-step differences
#   appear in some layers and grow through deep models (measured in docs/benchmarks.md).
#   A model pare compress cannot compress fails.
# Also prints the Transpose nodes of each export before and after ORT's optimizer.
#   scripts/test_export_ort.sh [MODEL_NAME...]     (PARE=path/to/pare, default build/tools/pare)
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}
max_steps=${INT8_MAX_STEPS:-8}
min_agreement=${INT8_MIN_AGREEMENT:-0.995}
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_cnn fmnist_mlp fmnist_vit fmnist_mobilenet_v2 fmnist_mobilenet_v3_small)
[ -x "$pare" ] || { echo "test_export_ort: $pare not found (build it or set PARE)"; exit 2; }
scripts/ort/install.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
images=testdata/data/fmnist_test_2000.npy
calib=testdata/data/fmnist_calib_500.npy
passed=0 failed=0

transposes() {  # ops in the export, and what ORT's optimizer leaves
  node scripts/ort/optimized_ops.js "$1" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const n = (c) => Object.entries(c).filter(([k]) => k.endsWith("Transpose")).reduce((s, [, v]) => s + v, 0);
    const total = (c) => Object.values(c).reduce((s, v) => s + v, 0);
    console.log(`    transposes ${n(j.model)} -> ${n(j.optimized)} after ORT optimization (nodes ${total(j.model)} -> ${total(j.optimized)})`);'
}

check() {  # NAME KIND: export, run both, compare
  local m=$1 kind=$2 ok=1
  "$pare" export-onnx "$work/$m.$kind.pare" -o "$work/$m.$kind.onnx" >/dev/null
  "$pare" run "$work/$m.$kind.pare" --input "$images" --output "$work/$m.$kind.pare.npy" >/dev/null
  node scripts/ort/run_model.js "$work/$m.$kind.onnx" "$images" "$work/$m.$kind.ort.npy"
  echo -n "$m ($kind): "
  if [ "$kind" = float ]; then
    node scripts/ort/compare.js "$work/$m.$kind.ort.npy" "$work/$m.$kind.pare.npy" 1e-4 || ok=0
  else
    node scripts/ort/compare_int8.js "$work/$m.$kind.ort.npy" "$work/$m.$kind.pare.npy" \
      "$work/$m.$kind.onnx" "$max_steps" "$min_agreement" || ok=0
  fi
  transposes "$work/$m.$kind.onnx"
  if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

for m in "${models[@]}"; do
  "$pare" convert "testdata/models/$m.onnx" -o "$work/$m.float.pare" >/dev/null
  check "$m" float
  if "$pare" compress "testdata/models/$m.onnx" -o "$work/$m.int8.pare" --calib "$calib" \
      >"$work/compress.log" 2>&1; then
    check "$m" int8
  else
    echo "$m (int8): FAILED, pare compress failed: $(tail -1 "$work/compress.log")"
    failed=$((failed + 1))
  fi
done
echo "export_onnx_ort: $passed passed, $failed failed"
[ $failed = 0 ]
