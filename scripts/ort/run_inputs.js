// Runs an ONNX model with ONNX Runtime on the rows of one .npy array per input, one
// inference per row (batch 1), and writes the first output stacked along the first axis.
// Inputs are bound by name; int64 (BigInt64Array) and float32 arrays are passed as they are.
//   node run_inputs.js MODEL.onnx OUTPUT.npy NAME=INPUT.npy... [--threads N]
'use strict';
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy');

const TYPES = { '<f4': 'float32', '<i8': 'int64', '<i4': 'int32' };

async function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--threads');
  const threads = ti >= 0 ? Number(args[ti + 1]) : 1;
  if (ti >= 0) args.splice(ti, 2);
  const [model, outPath, ...specs] = args;
  if (!outPath || specs.length === 0) {
    console.error('usage: node run_inputs.js MODEL.onnx OUTPUT.npy NAME=INPUT.npy... [--threads N]');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const inputs = {};
  let rows = -1;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    if (eq < 0 || !session.inputNames.includes(name))
      throw new Error(`${spec}: not NAME=FILE with NAME one of ${session.inputNames.join(', ')}`);
    const a = readNpy(spec.slice(eq + 1));
    if (!TYPES[a.descr]) throw new Error(`${spec}: unsupported dtype ${a.descr}`);
    if (rows >= 0 && a.shape[0] !== rows) throw new Error(`${spec}: ${a.shape[0]} rows, expected ${rows}`);
    rows = a.shape[0];
    inputs[name] = a;
  }
  for (const name of session.inputNames)
    if (!inputs[name]) throw new Error(`no array for input ${name}`);
  let out = null; let outShape = null;
  for (let r = 0; r < rows; ++r) {
    const feeds = {};
    for (const [name, a] of Object.entries(inputs)) {
      const rowShape = [1, ...a.shape.slice(1)];
      const n = rowShape.reduce((x, y) => x * y, 1);
      feeds[name] = new ort.Tensor(TYPES[a.descr], a.data.subarray(r * n, (r + 1) * n), rowShape);
    }
    const result = await session.run(feeds);
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
