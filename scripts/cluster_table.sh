#!/usr/bin/env bash
# The cluster tables of docs/compression.md.
#
# Default: each trained model of testdata/ clustered to each bit width, top-1 on the 2,000
# bundled test images and .pare size against the ONNX file, in fp32 and with int8 on top,
# and the cluster pass's time.
#   CLUSTER_BITS="2 4" other widths; CLUSTER_UPDATES="obs none" the update options compared
#   (default obs); CLUSTER_OPTIONS=",per=tensor" appended to cluster(...).
# CLUSTER_AB=weighting or CLUSTER_AB=update: compares that option's two values on calibration
# data only: the 500 calibration images split in halves, each model clustered with the first
# half and compared with the dense model's predictions on the second half (agreement %, no
# labels). (CLUSTER_AB=1 is CLUSTER_AB=weighting.)
# Usage: scripts/cluster_table.sh [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."
pare=build/tools/pare
data=testdata/data
out=build/cluster_table
mkdir -p "$out"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(fmnist_mlp fmnist_cnn fmnist_mobilenet_v2 fmnist_mobilenet_v3_small fmnist_vit)
canonical="fold,fold_batchnorm,fuse_activation,remove_identity"
bits_list=${CLUSTER_BITS:-2 3 4 5 6 7 8}
extra=${CLUSTER_OPTIONS:-}

# compress ONNX OUT PIPELINE CALIB: OUT and its report OUT.json.
compress() {
  "$pare" compress "$1" -o "$2" --calib "$4" --passes "$3" --report "$2.json" > /dev/null
}
# The cluster pass's seconds in a report.
cluster_seconds() { jq '[.passes[] | select(.pass == "cluster") | .ms] | add / 1000' "$1"; }
top1() {
  "$pare" eval "$1" --data "$2" --labels "$3" --json | sed -n 's/.*"top1": *\([0-9.]*\).*/\1/p'
}
percent() { printf '%.2f' "$(echo "$1 * 100" | bc -l)"; }

# npy_rows IN OUT FIRST COUNT: rows [FIRST, FIRST + COUNT) of a float32 .npy (version 1).
npy_rows() {
  python3 - "$@" <<'PY'
import ast, struct, sys
src, dst, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
raw = open(src, 'rb').read()
hlen = struct.unpack('<H', raw[8:10])[0]
head = ast.literal_eval(raw[10:10 + hlen].decode())
shape = head['shape']
row = 4
for d in shape[1:]: row *= d
body = raw[10 + hlen:][first * row:(first + count) * row]
h = str({'descr': '<f4', 'fortran_order': False, 'shape': (count,) + tuple(shape[1:])}).encode()
h += b' ' * (63 - (10 + len(h)) % 64) + b'\n'
open(dst, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + body)
PY
}
# argmax_labels LOGITS.npy OUT.npy: the argmax of each row as int64 labels.
argmax_labels() {
  python3 - "$@" <<'PY'
import ast, struct, sys
raw = open(sys.argv[1], 'rb').read()
hlen = struct.unpack('<H', raw[8:10])[0]
shape = ast.literal_eval(raw[10:10 + hlen].decode())['shape']
n, k = shape[0], shape[-1]
v = struct.unpack('<%df' % (n * k), raw[10 + hlen:10 + hlen + 4 * n * k])
labels = [max(range(k), key=lambda j: v[i * k + j]) for i in range(n)]
h = str({'descr': '<i8', 'fortran_order': False, 'shape': (n,)}).encode()
h += b' ' * (63 - (10 + len(h)) % 64) + b'\n'
open(sys.argv[2], 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h + struct.pack('<%dq' % n, *labels))
PY
}

ab=${CLUSTER_AB:-}
[ "$ab" = 1 ] && ab=weighting
if [ -n "$ab" ]; then
  case "$ab" in
    weighting) values=(data none) ;;
    update) values=(obs none) ;;
    *) echo "CLUSTER_AB: expected weighting or update" >&2; exit 2 ;;
  esac
  npy_rows "$data/fmnist_calib_500.npy" "$out/calib_a.npy" 0 250
  npy_rows "$data/fmnist_calib_500.npy" "$out/calib_b.npy" 250 250
  printf '| model | bits | int8 | agreement %% %s=%s | %s=%s |\n|---|---|---|---|---|\n' \
    "$ab" "${values[0]}" "$ab" "${values[1]}"
  for m in "${models[@]}"; do
    onnx=testdata/models/$m.onnx
    compress "$onnx" "$out/$m.dense.pare" "$canonical,nhwc,dce" "$out/calib_a.npy"
    "$pare" run "$out/$m.dense.pare" -i "$out/calib_b.npy" -o "$out/$m.logits.npy" > /dev/null
    argmax_labels "$out/$m.logits.npy" "$out/$m.dense_labels.npy"
    for b in $bits_list; do
      for q in "" ",quantize,dce"; do
        row=""
        for w in "${values[@]}"; do
          file="$out/$m.ab.$b.$w.pare"
          compress "$onnx" "$file" "$canonical,cluster(bits=$b,$ab=$w$extra),nhwc,dce$q" "$out/calib_a.npy"
          row="$row | $(percent "$(top1 "$file" "$out/calib_b.npy" "$out/$m.dense_labels.npy")")"
        done
        printf '| %s | %s | %s%s |\n' "$m" "$b" "$([ -n "$q" ] && echo yes || echo no)" "$row"
      done
    done
  done
  exit 0
fi

test_data=("$data/fmnist_test_2000.npy" "$data/fmnist_test_2000_labels.npy")
updates=${CLUSTER_UPDATES:-obs}
# size FILE ONNX: bytes and the ONNX file's size over them.
size() { printf '%s (%.2fx)' "$(stat -c %s "$1")" "$(echo "$(stat -c %s "$2") / $(stat -c %s "$1")" | bc -l)"; }
printf '| model | bits | update | top-1 %% | .pare bytes (ONNX/.pare) | int8 top-1 %% | int8 bytes (ONNX/.pare) | cluster s |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for m in "${models[@]}"; do
  onnx=testdata/models/$m.onnx
  compress "$onnx" "$out/$m.pare" "$canonical,nhwc,dce" "$data/fmnist_calib_500.npy"
  compress "$onnx" "$out/$m.int8.pare" "$canonical,nhwc,dce,quantize,dce" "$data/fmnist_calib_500.npy"
  printf '| %s | dense | – | %s | %s | %s | %s | – |\n' "$m" "$(percent "$(top1 "$out/$m.pare" "${test_data[@]}")")" \
    "$(size "$out/$m.pare" "$onnx")" "$(percent "$(top1 "$out/$m.int8.pare" "${test_data[@]}")")" \
    "$(size "$out/$m.int8.pare" "$onnx")"
  for b in $bits_list; do
    for u in $updates; do
      file="$out/$m.$b.$u.pare"
      compress "$onnx" "$file" "$canonical,cluster(bits=$b,update=$u$extra),nhwc,dce" "$data/fmnist_calib_500.npy"
      compress "$onnx" "$file.int8.pare" "$canonical,cluster(bits=$b,update=$u$extra),nhwc,dce,quantize,dce" \
        "$data/fmnist_calib_500.npy"
      printf '| %s | %s | %s | %s | %s | %s | %s | %.2f |\n' "$m" "$b" "$u" \
        "$(percent "$(top1 "$file" "${test_data[@]}")")" "$(size "$file" "$onnx")" \
        "$(percent "$(top1 "$file.int8.pare" "${test_data[@]}")")" "$(size "$file.int8.pare" "$onnx")" \
        "$(cluster_seconds "$file.json")"
    done
  done
done
