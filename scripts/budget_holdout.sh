#!/usr/bin/env bash
# Does a budget met by back-off hold on images the search never saw? The 2,000 bundled test
# images are split in two halves: compress (no --passes, the budget flags given, default
# --max-top1-drop 1) checks on the first half, then pare check measures the written model on
# the second half. Prints a markdown table (docs/ci.md).
# Usage: scripts/budget_holdout.sh [BUDGET_FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
pare=${PARE:-build/tools/pare}
data=testdata/data
out=build/budget_holdout
mkdir -p "$out"
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--max-top1-drop 1)
# npy_split IN FIRST_OUT SECOND_OUT: the first 1000 rows and the rest (any dtype, C order).
npy_split() {
  python3 - "$@" <<'PY'
import ast, struct, sys
src, first, second = sys.argv[1:4]
raw = open(src, 'rb').read()
hlen = struct.unpack('<H', raw[8:10])[0]
head = ast.literal_eval(raw[10:10 + hlen].decode())
shape = head['shape']
row = int(head['descr'][2:])
for d in shape[1:]: row *= d
body = raw[10 + hlen:]
for path, lo, hi in ((first, 0, 1000), (second, 1000, shape[0])):
    h = str({'descr': head['descr'], 'fortran_order': False, 'shape': (hi - lo,) + tuple(shape[1:])}).encode()
    h += b' ' * (63 - (10 + len(h)) % 64) + b'\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + body[lo * row:hi * row])
PY
}
npy_split "$data/fmnist_test_2000.npy" "$out/a.npy" "$out/b.npy"
npy_split "$data/fmnist_test_2000_labels.npy" "$out/a_labels.npy" "$out/b_labels.npy"
models=(${MODELS:-fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit})
printf '| model | ONNX / .pare | top-1 drop on the check half (+ 1 SE) | top-1 drop on the held-out half | agreement held out |\n'
printf '|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  "$pare" compress "$onnx" -o "$out/$m.pare" --calib "$data/fmnist_calib_500.npy" --check-data "$out/a.npy" \
    --labels "$out/a_labels.npy" "${flags[@]}" --report "$out/$m.json" > "$out/$m.log" || true
  if [ ! -f "$out/$m.pare" ]; then printf '| %s | not written | | | |\n' "$m"; continue; fi
  "$pare" check "$out/$m.pare" --teacher "$onnx" --data "$out/b.npy" --labels "$out/b_labels.npy" --json \
    > "$out/$m.b.json" || true
  python3 - "$out/$m.json" "$out/$m.b.json" "$m" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
drop = [x for x in a["check"]["budgets"] if x["name"] == "max-top1-drop"]
bound = f" ({drop[0]['bound']:.2f})" if drop else ""
print(f"| {sys.argv[3]} | {1 / a['size_ratio']:.2f}x | {a['check']['metrics']['top1_drop']:.2f}{bound} | "
      f"{b['metrics']['top1_drop']:.2f} | {b['metrics']['agreement']:.1f} |")
PY
  rm -f "$out/$m.pare"
done
