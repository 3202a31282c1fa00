// Counts the op types of an ONNX model before and after ONNX Runtime's graph optimizations
// (the optimized model is saved with sessionOptions.optimizedModelFilePath and read back).
// Prints one JSON object: { "model": {op: count}, "optimized": {op: count} }.
//   node optimized_ops.js MODEL.onnx [--level basic|extended|all]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const ort = require('onnxruntime-node');
const { countOps } = require('./onnx_proto');

async function main() {
  const [model, ...rest] = process.argv.slice(2);
  if (!model) {
    console.error('usage: node optimized_ops.js MODEL.onnx [--level basic|extended|all]');
    process.exit(2);
  }
  const li = rest.indexOf('--level');
  const level = li >= 0 ? rest[li + 1] : 'all';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-opt-'));
  const optimized = path.join(dir, 'optimized.onnx');
  try {
    await ort.InferenceSession.create(model, {
      graphOptimizationLevel: level, optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 3,
    });
    console.log(JSON.stringify({ model: countOps(model), optimized: countOps(optimized) }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
