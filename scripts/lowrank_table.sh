#!/usr/bin/env bash
# The lowrank table of docs/compression.md: each trained model of testdata/ factorized at
# each setting (energies and rank ratios) with data=on (whitened by the calibration data) and
# data=off (plain SVD / HOSVD of the weights), then the weights and MACs of the Conv/Gemm/MatMul
# layers kept (from the --report), top-1 on the 2,000 bundled test images in fp32 and with
# int8 on top, the .pare size with the ONNX file's size divided by it, and the compress time.
# Usage: scripts/lowrank_table.sh [MODEL...]
#   LOWRANK_SETTINGS="energy=0.9 rank_ratio=0.25" other settings; LOWRANK_DATA="on" only data=on;
#   LOWRANK_INT8=0 leaves out the int8 column.
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/lowrank_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
settings=${LOWRANK_SETTINGS:-energy=0.95 energy=0.97 rank_ratio=0.25}
datas=${LOWRANK_DATA:-on off}
int8=${LOWRANK_INT8:-1}

top1() {
  "$pare" eval "$1" --data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --json |
    sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'
}
percent() { printf '%.2f' "$(echo "$1 * 100" | bc -l)"; }

# kept REPORT: "weights kept x | MACs kept x" over the lowrank pass's candidate layers.
kept() {
  python3 - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
layers = j.get("lowrank", {}).get("layers", [])
def total(key, fallback):
    return sum(l.get(key, l[fallback]) for l in layers)
pb, mb = total("params_before", "params_before"), total("macs_before", "macs_before")
pa, ma = total("params_after", "params_before"), total("macs_after", "macs_before")
print(f"{pa / pb:.3f} | {ma / mb:.3f}" if pb else "1.000 | 1.000")
PY
}

# compress ONNX OUT PIPELINE: prints "weights | MACs | top-1 fp32 | top-1 int8 | bytes (ONNX/.pare x) | s".
compress() {
  local start end q="–"
  start=$(date +%s.%N)
  "$pare" compress "$1" -o "$2" --calib "$data/fmnist_calib_500.npy" --passes "$3,nhwc,dce" --report "$2.json" > /dev/null
  end=$(date +%s.%N)
  if [ "$int8" = 1 ]; then
    "$pare" compress "$1" -o "$2.int8.pare" --calib "$data/fmnist_calib_500.npy" \
      --passes "$3,nhwc,dce,quantize,dce" > /dev/null
    q=$(percent "$(top1 "$2.int8.pare")")
  fi
  printf '%s | %s | %s | %d (%.2fx) | %.1f' "$(kept "$2.json")" "$(percent "$(top1 "$2")")" "$q" "$(stat -c %s "$2")" \
    "$(echo "$(stat -c %s "$1") / $(stat -c %s "$2")" | bc -l)" "$(echo "$end - $start" | bc -l)"
}

printf '| model | setting | data | weights kept | MACs kept | top-1 %% | int8 top-1 %% | .pare bytes (ONNX/.pare) | compress s |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  printf '| %s | dense | – | %s |\n' "$m" "$(compress "$onnx" "$out/$m.pare" "$canonical")"
  for s in $settings; do
    for d in $datas; do
      file="$out/$m.${s/=/_}.$d.pare"
      printf '| %s | %s | %s | %s |\n' "$m" "$s" "$d" "$(compress "$onnx" "$file" "$canonical,lowrank($s,data=$d)")"
    done
  done
done
