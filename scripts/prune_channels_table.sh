#!/usr/bin/env bash
# The prune_channels tables of docs/compression.md: each trained model of testdata/ dense and
# with prune_channels(ratio=0.3) under update=none (bias move only) and update=lsq (refit),
# top-1 on the 2,000 bundled test images in fp32 and with int8 on top, MACs, compress
# seconds, and the milliseconds of dense and refitted .pare alternating in one run (medians of
# the per-round medians); then the ratio sweep of fmnist_mobilenet_v2.
# Usage: scripts/prune_channels_table.sh [MODEL...]
#   ROUNDS=5 bench rounds; SWEEP=0 leaves out the ratio sweep; RATIOS="0.1 0.2" other ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/prune_channels_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_cnn fmnist_mlp fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
rounds=${ROUNDS:-5}

top1() {
  "$pare" eval "$1" --data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --json |
    sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p' | awk '{printf "%.2f", $1 * 100}'
}
ms() { "$pare" bench "$1" --threads 1 -n 30 -w 5 --json | sed -n 's/.*"median_ms": *\([0-9.]*\).*/\1/p'; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }

# compress ONNX OUT PASSES: OUT (fp32) and OUT.int8.pare; OUT.macs gets the MACs after, OUT.s
# the seconds of the fp32 compress.
compress() {
  local start end
  start=$(date +%s.%N)
  "$pare" compress "$1" -o "$2" --calib "$data/fmnist_calib_500.npy" --passes "$3,nhwc,dce" \
    --report "$2.json" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l > "$2.s"
  sed -n 's/.*"macs_after": *\([0-9]*\).*/\1/p' "$2.json" | head -n 1 > "$2.macs"
  "$pare" compress "$1" -o "$2.int8.pare" --calib "$data/fmnist_calib_500.npy" \
    --passes "$3,nhwc,dce,quantize,dce" > /dev/null
}

printf '| model | MACs dense | MACs pruned | ms dense | ms pruned | top-1 dense | none | lsq | int8 dense | int8 none | int8 lsq | compress s none / lsq |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  compress "$onnx" "$out/$m.pare" "$canonical,prune_channels(ratio=0)"
  for u in none lsq; do compress "$onnx" "$out/$m.$u.pare" "$canonical,prune_channels(ratio=0.3,update=$u)"; done
  : > "$out/$m.ms.dense"
  : > "$out/$m.ms.lsq"
  for _ in $(seq "$rounds"); do
    ms "$out/$m.pare" >> "$out/$m.ms.dense"
    ms "$out/$m.lsq.pare" >> "$out/$m.ms.lsq"
  done
  printf '| %s | %.2f M | %.2f M | %.3f | %.3f | %s | %s | %s | %s | %s | %s | %.1f / %.1f |\n' "$m" \
    "$(echo "$(cat "$out/$m.pare.macs") / 1000000" | bc -l)" "$(echo "$(cat "$out/$m.lsq.pare.macs") / 1000000" | bc -l)" \
    "$(median < "$out/$m.ms.dense")" "$(median < "$out/$m.ms.lsq")" \
    "$(top1 "$out/$m.pare")" "$(top1 "$out/$m.none.pare")" "$(top1 "$out/$m.lsq.pare")" \
    "$(top1 "$out/$m.pare.int8.pare")" "$(top1 "$out/$m.none.pare.int8.pare")" "$(top1 "$out/$m.lsq.pare.int8.pare")" \
    "$(cat "$out/$m.none.pare.s")" "$(cat "$out/$m.lsq.pare.s")"
done

[ "${SWEEP:-1}" = 1 ] || exit 0
m=fmnist_mobilenet_v2
printf '\n| ratio | MACs fewer | top-1 none | top-1 lsq | int8 lsq |\n|---|---|---|---|---|\n'
for r in ${RATIOS:-0.05 0.1 0.2 0.3 0.4 0.5}; do
  for u in none lsq; do
    compress "testdata/models/$m.onnx" "$out/$m.$r.$u.pare" "$canonical,prune_channels(ratio=$r,update=$u)"
  done
  before=$(sed -n 's/.*"macs_before": *\([0-9]*\).*/\1/p' "$out/$m.$r.lsq.pare.json" | head -n 1)
  printf '| %s | %.1f%% | %s | %s | %s |\n' "$r" "$(echo "100 * (1 - $(cat "$out/$m.$r.lsq.pare.macs") / $before)" | bc -l)" \
    "$(top1 "$out/$m.$r.none.pare")" "$(top1 "$out/$m.$r.lsq.pare")" "$(top1 "$out/$m.$r.lsq.pare.int8.pare")"
done
