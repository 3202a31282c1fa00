#!/usr/bin/env bash
# The prune table of docs/compression.md: each trained model of testdata/ pruned to each
# sparsity with each variant (global scope, layer scope, sensitivity schedule) and each
# update (none: magnitude only, obs: least-squares refit on the calibration data), then top-1
# on the 2,000 bundled test images in fp32 and with int8 on top, and both .pare sizes with
# the ONNX file's size divided by them.
# Usage: scripts/prune_table.sh [MODEL...]
#   PRUNE_VARIANTS="scope=global scope=layer" leaves out the sensitivity schedule (slow on the MobileNets);
#   PRUNE_UPDATES="obs" only the refit; PRUNE_INT8=0 leaves out the int8 column;
#   PRUNE_SPARSITIES="0.5 0.8" other sparsities.
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/prune_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
variants=${PRUNE_VARIANTS:-scope=global scope=layer schedule=sensitivity}
updates=${PRUNE_UPDATES:-none obs}
sparsities=${PRUNE_SPARSITIES:-0.5 0.7 0.8 0.9}
int8=${PRUNE_INT8:-1}

top1() {
  "$pare" eval "$1" --data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --json |
    sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'
}
percent() { printf '%.2f' "$(echo "$1 * 100" | bc -l)"; }

# compress ONNX OUT PIPELINE: the fp32 file OUT and, with PRUNE_INT8=1, OUT.int8.pare; prints
# "top-1 fp32 | top-1 int8" and the prune pass's seconds to OUT.time.
compress() {
  local start end
  start=$(date +%s.%N)
  "$pare" compress "$1" -o "$2" --calib "$data/fmnist_calib_500.npy" --passes "$3,nhwc,dce" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l > "$2.time"
  local q="–"
  if [ "$int8" = 1 ]; then
    "$pare" compress "$1" -o "$2.int8.pare" --calib "$data/fmnist_calib_500.npy" \
      --passes "$3,nhwc,dce,quantize,dce" > /dev/null
    q=$(percent "$(top1 "$2.int8.pare")")
  fi
  printf '%s | %s' "$(percent "$(top1 "$2")")" "$q"
}

# sizes ONNX PARE: "fp32 bytes (ONNX/fp32 x) | int8 bytes (ONNX/int8 x)".
sizes() {
  local onnx_bytes fp32 q="–"
  onnx_bytes=$(stat -c %s "$1")
  fp32=$(stat -c %s "$2")
  if [ -f "$2.int8.pare" ] && [ "$int8" = 1 ]; then
    q=$(printf '%d (%.2fx)' "$(stat -c %s "$2.int8.pare")" "$(echo "$onnx_bytes / $(stat -c %s "$2.int8.pare")" | bc -l)")
  fi
  printf '%d (%.2fx) | %s' "$fp32" "$(echo "$onnx_bytes / $fp32" | bc -l)" "$q"
}

printf '| model | sparsity | variant | update | top-1 %% | int8 top-1 %% | .pare bytes (ONNX/.pare) | int8 .pare bytes | compress s |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  row=$(compress "$onnx" "$out/$m.pare" "$canonical")
  printf '| %s | 0 | dense | – | %s | %s | %.1f |\n' "$m" "$row" "$(sizes "$onnx" "$out/$m.pare")" "$(cat "$out/$m.pare.time")"
  for s in $sparsities; do
    for variant in $variants; do
      for update in $updates; do
        file="$out/$m.$s.${variant#*=}.$update.pare"
        row=$(compress "$onnx" "$file" "$canonical,prune(sparsity=$s,$variant,update=$update)")
        printf '| %s | %s | %s | %s | %s | %s | %.1f |\n' "$m" "$s" "$variant" "$update" "$row" \
          "$(sizes "$onnx" "$file")" "$(cat "$file.time")"
      done
    done
  done
done
