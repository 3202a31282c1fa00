// Compares two float32 .npy files of logits from an int8 model whose output is written by
// a DequantizeLinear: differences are measured in steps of that output's scale (read from
// MODEL.onnx). Prints top-1 agreement, the largest |a - b| in steps and how many values
// differ; exits 1 unless top-1 agrees on at least MIN_AGREEMENT of the rows (default 1:
// every row), no value differs by more than MAX_STEPS steps (default 1) and at most
// MAX_DIFFERING values differ at all (default: no limit).
//   node compare_int8.js PARE.npy ORT.npy MODEL.onnx [MAX_STEPS [MIN_AGREEMENT [MAX_DIFFERING]]]
'use strict';
const { readNpy } = require('./npy');
const { graphOf } = require('./onnx_proto');

const [aPath, bPath, modelPath, stepsStr, agreementStr, differingStr] = process.argv.slice(2);
const maxSteps = stepsStr ? Number(stepsStr) : 1;
const minAgreement = agreementStr ? Number(agreementStr) : 1;  // fraction of rows with the same top-1
const maxDiffering = differingStr ? Number(differingStr) : Infinity;
for (const [name, v] of [['MAX_STEPS', maxSteps], ['MIN_AGREEMENT', minAgreement], ['MAX_DIFFERING', maxDiffering]]) {
  if (Number.isNaN(v)) {
    console.error(`${name} is not a number`);
    process.exit(1);
  }
}
const g = graphOf(modelPath);
const writer = g.nodes.find((n) => n.outputs.includes(g.outputs[0]));
if (!writer || writer.op !== 'DequantizeLinear' || !g.initializers[writer.inputs[1]]) {
  console.error(`${modelPath}: the output is not written by a DequantizeLinear with a constant scale`);
  process.exit(1);
}
const raw = g.initializers[writer.inputs[1]];
const scale = raw.readFloatLE(0);
const a = readNpy(aPath); const b = readNpy(bPath);
if (a.shape.join('x') !== b.shape.join('x')) {
  console.error(`shape mismatch: ${a.shape} vs ${b.shape}`);
  process.exit(1);
}
const rows = a.shape[0]; const cols = a.data.length / rows;
let same = 0; let maxDiff = 0; let differing = 0;
for (let r = 0; r < rows; ++r) {
  let ia = 0; let ib = 0;
  for (let c = 0; c < cols; ++c) {
    const x = a.data[r * cols + c]; const y = b.data[r * cols + c];
    const d = Math.abs(x - y);
    if (d > scale * 1e-3) differing += 1;
    maxDiff = Math.max(maxDiff, d);
    if (x > a.data[r * cols + ia]) ia = c;
    if (y > b.data[r * cols + ib]) ib = c;
  }
  if (ia === ib) same += 1;
}
const steps = maxDiff / scale;
console.log(`rows ${rows}: top-1 agreement ${same}/${rows}, max |diff| ${maxDiff.toExponential(3)} = ` +
            `${steps.toFixed(2)} steps of ${scale.toExponential(3)}, ${differing}/${a.data.length} values ` +
            `differ (bounds: ${maxSteps} steps, top-1 agreement >= ${minAgreement}, ` +
            `${maxDiffering} values differ)`);
process.exit(same >= minAgreement * rows - 1e-9 && steps <= maxSteps + 1e-3 && differing <= maxDiffering ? 0 : 1);
