// Runs an ONNX model with ONNX Runtime on the rows of an input .npy, one inference per
// row (batch 1), and writes the first output stacked along the first axis.
//   node run_model.js MODEL.onnx INPUT.npy OUTPUT.npy [--threads N]
'use strict';
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy');

async function main() {
  const [model, inPath, outPath, ...rest] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node run_model.js MODEL.onnx INPUT.npy OUTPUT.npy [--threads N]');
    process.exit(2);
  }
  const ti = rest.indexOf('--threads');
  const threads = ti >= 0 ? Number(rest[ti + 1]) : 1;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const input = readNpy(inPath);
  const rows = input.shape[0];
  const rowShape = [1, ...input.shape.slice(1)];
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  let out = null; let outShape = null;
  for (let r = 0; r < rows; ++r) {
    const x = new ort.Tensor('float32', input.data.subarray(r * rowSize, (r + 1) * rowSize), rowShape);
    const result = await session.run({ [session.inputNames[0]]: x });
    const y = result[session.outputNames[0]];
    if (!out) {
      outShape = [rows, ...y.dims.slice(1)];
      out = new Float32Array(rows * y.data.length);
    }
    out.set(y.data, r * y.data.length);
  }
  writeNpy(outPath, out, outShape);
}

main().catch((e) => { console.error(e.message); process.exit(1); });
