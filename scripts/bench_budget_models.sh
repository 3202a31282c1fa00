#!/usr/bin/env bash
set -euo pipefail
# pare's smallest-that-fits models (build/budget_table, written by scripts/budget_table.sh) against ONNX Runtime fp32 on the original ONNX, 1 thread,
# 3 alternating rounds of 5 warm-up + 50 runs; median of the round medians.
cd "$(dirname "$0")/.."
printf '| model | pare ms | ONNX Runtime fp32 ms | pare / ORT |\n|---|---|---|---|\n'
for m in fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit; do
  p=(); o=()
  for r in 1 2 3; do
    p+=($(build/tools/pare bench build/budget_table/$m.pare --json --threads 1 --iterations 50 --warmup 5 | python3 -c 'import json,sys;print(json.load(sys.stdin)["median_ms"])'))
    o+=($(node scripts/ort/bench_model.js testdata/models/$m.onnx --threads 1 --iterations 50 --warmup 5 | python3 -c 'import json,sys;print(json.load(sys.stdin)["median_ms"])'))
  done
  python3 - "$m" "${p[*]}" "${o[*]}" <<'PY'
import sys, statistics as st
m=sys.argv[1]; p=sorted(map(float,sys.argv[2].split())); o=sorted(map(float,sys.argv[3].split()))
print(f"| {m} | {st.median(p):.3f} | {st.median(o):.3f} | {st.median(p)/st.median(o):.2f} |")
PY
done
