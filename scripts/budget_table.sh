#!/usr/bin/env bash
# The "smallest that fits" table of docs/ci.md: each trained model of testdata/ compressed with
# a budget and no --passes (back-off from the aggressive preset), checked on the 2,000 bundled
# test images (scripts/budget_holdout.sh checks the same on images the search never saw).
# Usage: scripts/budget_table.sh [BUDGET_FLAGS...]   (default: --max-top1-drop 1)
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}
data=testdata/data
out=build/budget_table
mkdir -p "$out"
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--max-top1-drop 1)
models=(${MODELS:-fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit})
printf '| model | preset alone: ONNX / .pare, top-1 drop | written: ONNX / .pare | top-1 drop (+ 1 SE) | relaxations | rounds, builds | seconds |\n'
printf '|---|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  start=$(date +%s.%N)
  "$pare" compress "$onnx" -o "$out/$m.pare" --calib "$data/fmnist_calib_500.npy" \
    --check-data "$data/fmnist_test_2000.npy" --labels "$data/fmnist_test_2000_labels.npy" "${flags[@]}" \
    --report "$out/$m.json" > "$out/$m.log" || true
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  python3 - "$out/$m.json" "$(stat -c %s "$onnx")" "$seconds" "$m" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); onnx = int(sys.argv[2]); secs = float(sys.argv[3])
c = j["check"]; b = c["backoff"]; m = c["metrics"]
given = b["budgets_given"][0]
drop = [x for x in c["budgets"] if x["name"] == "max-top1-drop"]
print(f"| {sys.argv[4]} | {onnx / b['bytes_given']:.2f}x, {given['value']:.2f} | "
      f"{onnx / j['pare_bytes']:.2f}x{'' if j['written'] else ' (not written)'} | "
      f"{m['top1_drop']:.2f} ({drop[0]['bound']:.2f}) | {len(b['relaxations'])} | {b['rounds']}, {b['builds']} | {secs:.0f} |")
PY
done
