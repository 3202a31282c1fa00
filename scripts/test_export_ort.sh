#!/usr/bin/env bash
# `pare export-onnx` checked with ONNX Runtime (onnxruntime-node) on the trained models over
# the 2,000 Fashion-MNIST test images, each model against its own bounds (the tables below):
# - float: `pare convert`, export, ORT on the export vs pare on the .pare: same top-1 on every
#   image, max |diff| scaled by max(1, |pare|) at most the model's float bound;
# - int8: `pare compress` with the calibration set, export (QDQ), same comparison with the
#   differences in steps of the output's scale: at most the model's steps, the same top-1 on
#   at least its fraction of the images, and at most its count of logits that differ. The
#   two runtimes round differently inside (pare requantizes in fixed point, ONNX Runtime in
#   float; its Add, pools and tables have their own rounding), so single-step differences
#   appear in some layers and grow through deep models (measured in docs/benchmarks.md).
#   A model pare compress cannot compress fails, and so does a model without bounds.
#   The int8 check runs twice: the export as written by default (int8 weights) and with
#   `--weight-type uint8` (the same values as uint8). On x86-64 CPUs without VNNI, ONNX
#   Runtime's int8-weight kernels add pairs of products in saturating int16 (vpmaddubsw),
#   so there the int8-weight run's differences are printed, not judged, and the uint8 run,
#   which ONNX Runtime computes exactly everywhere, carries the bounds.
# Also prints the Transpose nodes of each export before and after ORT's optimizer.
#   scripts/test_export_ort.sh [MODEL_NAME...]     (PARE=path/to/pare, default build/tools/pare)
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}

# Bounds per model, a little above what was measured (onnxruntime-node 1.30.0, x86-64 with
# AVX-512 VNNI; the measured value in the comment).
# Float: the largest |ORT - pare| / max(1, |pare|) over all logits.
declare -A float_bound=(
  [fmnist_cnn]=1e-5                  # 2.58e-6
  [fmnist_mlp]=1e-5                  # 2.77e-6
  [fmnist_vit]=1.5e-5                # 3.82e-6
  [fmnist_mobilenet_v2]=5e-5         # 1.13e-5
  [fmnist_mobilenet_v3_small]=3e-5   # 7.81e-6
)
# Int8: the largest difference in output steps (the models that match to one step keep a
# one-step bound; the deeper ones their measured steps), the fraction of the 2,000 images
# with the same top-1, and how many of the 20,000 logits may differ at all.
declare -A int8_steps=(
  [fmnist_cnn]=1 [fmnist_mlp]=1 [fmnist_vit]=2 [fmnist_mobilenet_v2]=5 [fmnist_mobilenet_v3_small]=6
)
declare -A int8_agreement=(         # measured: 2000, 2000, 1999, 2000, 1998 of 2000
  [fmnist_cnn]=1 [fmnist_mlp]=1 [fmnist_vit]=0.9995 [fmnist_mobilenet_v2]=1 [fmnist_mobilenet_v3_small]=0.999
)
declare -A int8_differing=(         # measured: 6, 0, 650, 1590, 862
  [fmnist_cnn]=10 [fmnist_mlp]=5 [fmnist_vit]=800 [fmnist_mobilenet_v2]=2000 [fmnist_mobilenet_v3_small]=1100
)
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

saturating=false
if [ "$(uname -m)" = x86_64 ] && ! grep -qwE 'avx512_vnni|avx_vnni' /proc/cpuinfo; then
  saturating=true
  echo "this CPU has no VNNI: ONNX Runtime's int8-weight kernels saturate here; int8-weight exports are reported, uint8-weight exports judged"
fi

check() {  # NAME KIND [WEIGHT_TYPE]: export, run both, compare
  local m=$1 kind=$2 weights=${3:-int8} ok=1 judged=true label=$2 out
  [ "$kind" = int8 ] && label="int8, $weights weights"
  out=$work/$m.$kind.$weights
  "$pare" export-onnx "$work/$m.$kind.pare" -o "$out.onnx" --weight-type "$weights" >/dev/null
  "$pare" run "$work/$m.$kind.pare" --input "$images" --output "$out.pare.npy" >/dev/null
  node scripts/ort/run_model.js "$out.onnx" "$images" "$out.ort.npy"
  echo -n "$m ($label): "
  if [ "$kind" = float ]; then
    node scripts/ort/compare.js "$out.ort.npy" "$out.pare.npy" "${float_bound[$m]}" || ok=0
  else
    [ "$weights" = int8 ] && $saturating && judged=false
    node scripts/ort/compare_int8.js "$out.ort.npy" "$out.pare.npy" \
      "$out.onnx" "${int8_steps[$m]}" "${int8_agreement[$m]}" "${int8_differing[$m]}" || ok=0
  fi
  transposes "$out.onnx"
  if ! $judged; then
    echo "$m ($label): not judged on this CPU (ONNX Runtime saturates int8 weights without VNNI)"
  elif [ $ok = 1 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "$m ($label): FAILED, outside its bounds"
  fi
}

for m in "${models[@]}"; do
  if [ -z "${float_bound[$m]:-}" ] || [ -z "${int8_steps[$m]:-}" ] || [ -z "${int8_agreement[$m]:-}" ] ||
     [ -z "${int8_differing[$m]:-}" ]; then
    echo "$m: FAILED, no bounds for this model in $0"
    failed=$((failed + 1))
    continue
  fi
  "$pare" convert "testdata/models/$m.onnx" -o "$work/$m.float.pare" >/dev/null
  check "$m" float
  if "$pare" compress "testdata/models/$m.onnx" -o "$work/$m.int8.pare" --calib "$calib" \
      >"$work/compress.log" 2>&1; then
    check "$m" int8 int8
    check "$m" int8 uint8
  else
    echo "$m (int8): FAILED, pare compress failed: $(tail -1 "$work/compress.log")"
    failed=$((failed + 1))
  fi
done
echo "export_onnx_ort: $passed passed, $failed failed"
[ $failed = 0 ]
