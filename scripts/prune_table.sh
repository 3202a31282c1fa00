#!/usr/bin/env bash
# The prune table of docs/compression.md: each trained model of testdata/ pruned to each
# sparsity with global scope, layer scope and the sensitivity schedule (fp32), then top-1 on
# the 2,000 bundled test images and the .pare size. Usage: scripts/prune_table.sh [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/prune_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
# PRUNE_VARIANTS="scope=global scope=layer" leaves out the sensitivity schedule (slow on the MobileNets).
variants=${PRUNE_VARIANTS:-scope=global scope=layer schedule=sensitivity}

top1() {
  "$pare" eval "$1" --data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" --json |
    sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'
}

printf '| model | sparsity | variant | top-1 %% | .pare bytes |\n|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  "$pare" compress "$onnx" -o "$out/$m.pare" --calib "$data/fmnist_calib_500.npy" \
    --passes "$canonical,nhwc,dce" > /dev/null
  printf '| %s | 0 | dense | %.2f | %d |\n' "$m" "$(echo "$(top1 "$out/$m.pare") * 100" | bc -l)" \
    "$(stat -c %s "$out/$m.pare")"
  for s in 0.5 0.7 0.8 0.9; do
    for variant in $variants; do
      file="$out/$m.$s.${variant#*=}.pare"
      "$pare" compress "$onnx" -o "$file" --calib "$data/fmnist_calib_500.npy" \
        --passes "$canonical,prune(sparsity=$s,$variant),nhwc,dce" > /dev/null
      printf '| %s | %s | %s | %.2f | %d |\n' "$m" "$s" "$variant" \
        "$(echo "$(top1 "$file") * 100" | bc -l)" "$(stat -c %s "$file")"
    done
  done
done
