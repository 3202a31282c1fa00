#!/usr/bin/env bash
# The "Combining passes" table of docs/compression.md: each trained model of testdata/ through
# combined pipelines (int8 on top), .pare size against the ONNX file, top-1 on the 2,000
# bundled test images, and the same pipeline calibrated on calibration images 0-249 only,
# compared with the dense model's predictions on images 250-499 (agreement %, images the
# pipeline never saw).
# Usage: scripts/combined_table.sh [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/combined_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
mixed="cluster(bits=3),cluster(bits=2,min_params=20000)"

# The pipelines per model (the part between the canonical passes and nhwc).
pipelines() {
  case "$1" in
    fmnist_mlp) printf '%s\n' "lowrank,cluster(bits=4)" "lowrank,cluster(bits=3)" "cluster(bits=2)" "$mixed" ;;
    *) printf '%s\n' "cluster(bits=3)" "$mixed" "cluster(bits=2)" "prune(sparsity=0.5),cluster(bits=3)" ;;
  esac
}

compress() { "$pare" compress "$1" -o "$2" --calib "$4" --passes "$3" > /dev/null; }
top1() {
  "$pare" eval "$1" --data "$2" --labels "$3" --json | sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'
}
percent() { printf '%.2f' "$(echo "$1 * 100" | bc -l)"; }
# npy_rows IN OUT FIRST COUNT and argmax_labels LOGITS OUT, as in cluster_table.sh.
source <(sed -n '/^npy_rows()/,/^}/p;/^argmax_labels()/,/^}/p' scripts/cluster_table.sh)

npy_rows "$data/fmnist_calib_500.npy" "$out/calib_a.npy" 0 250
npy_rows "$data/fmnist_calib_500.npy" "$out/calib_b.npy" 250 250
test_data=("$data/fmnist_test_2000.npy" "$data/fmnist_test_2000_labels.npy")
printf '| model | P | .pare bytes | ONNX / .pare | top-1 %% (dense fp32) | held-out agreement %% |\n'
printf '|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  compress "$onnx" "$out/$m.dense.pare" "$canonical,nhwc,dce" "$data/fmnist_calib_500.npy"
  dense=$(percent "$(top1 "$out/$m.dense.pare" "${test_data[@]}")")
  "$pare" run "$out/$m.dense.pare" -i "$out/calib_b.npy" -o "$out/$m.logits.npy" > /dev/null
  argmax_labels "$out/$m.logits.npy" "$out/$m.dense_labels.npy"
  while IFS= read -r p; do
    file="$out/$m.pare"
    compress "$onnx" "$file" "$canonical,$p,nhwc,dce,quantize,dce" "$data/fmnist_calib_500.npy"
    bytes=$(stat -c %s "$file")
    ratio=$(printf '%.2f' "$(echo "$(stat -c %s "$onnx") / $bytes" | bc -l)")
    acc=$(percent "$(top1 "$file" "${test_data[@]}")")
    compress "$onnx" "$out/$m.a.pare" "$canonical,$p,nhwc,dce,quantize,dce" "$out/calib_a.npy"
    agree=$(percent "$(top1 "$out/$m.a.pare" "$out/calib_b.npy" "$out/$m.dense_labels.npy")")
    printf '| %s | `%s` | %s | %sx | %s (%s) | %s |\n' "$m" "$p" "$bytes" "$ratio" "$acc" "$dense" "$agree"
  done < <(pipelines "$m")
done
