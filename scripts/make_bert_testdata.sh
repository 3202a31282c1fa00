#!/usr/bin/env bash
# Rebuilds the BERT-class test models and their ONNX Runtime reference (testdata/README.md):
#   testdata/models/bert_tiny{,_where}.onnx         scripts/make_bert.py (torch, opset 17)
#   testdata/data/bert_tiny_inputs_64.npz           64 random padded sequences (int64 [64,64])
#   testdata/data/bert_tiny_calib_128.npz           128 more, for int8 calibration
#   testdata/models/bert_tiny{,_where}.ort_logits_64.npy  ONNX Runtime's logits, float32
#                                                   [64,4], one sequence at a time
# Needs Debian's python3-torch and python3-onnx (/usr/bin/python3) and node.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-/usr/bin/python3}
scripts/ort/install.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" scripts/make_bert.py "$work" --data 64 --calib 128 2>&1 | grep -v -i warn || true
cp "$work/bert_tiny.onnx" "$work/bert_tiny_where.onnx" testdata/models/
cp "$work/bert_tiny_inputs.npz" testdata/data/bert_tiny_*.npz
cp "$work/bert_tiny_calib.npz" testdata/data/bert_tiny_calib_128.npz
"$py" -c "
import numpy as np, sys
d = np.load(sys.argv[1])
for k in d.files: np.save(sys.argv[2] + '/' + k + '.npy', d[k])" testdata/data/bert_tiny_inputs_64.npz "$work"
node scripts/ort/run_inputs.js testdata/models/bert_tiny.onnx testdata/models/bert_tiny.ort_logits_64.npy \
  input_ids="$work/input_ids.npy" attention_mask="$work/attention_mask.npy"
node scripts/ort/run_inputs.js testdata/models/bert_tiny_where.onnx testdata/models/bert_tiny_where.ort_logits_64.npy \
  input_ids="$work/input_ids.npy" attention_mask="$work/attention_mask.npy" token_type_ids="$work/token_type_ids.npy"
sha256sum testdata/models/bert_tiny*.onnx testdata/models/bert_tiny*.npy testdata/data/bert_tiny_*.npz
