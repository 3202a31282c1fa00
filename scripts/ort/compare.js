// Compares two float32 .npy files of logits row by row: top-1 agreement and the largest
// |a - b| / max(1, |b|). Exits 1 when the bound is not met.
//   node compare.js PARE.npy REFERENCE.npy [TOLERANCE]
'use strict';
const { readNpy } = require('./npy');

const [aPath, bPath, tolStr] = process.argv.slice(2);
const tol = tolStr ? Number(tolStr) : 1e-3;
if (Number.isNaN(tol)) {
  console.error(`tolerance '${tolStr}' is not a number`);
  process.exit(1);
}
const a = readNpy(aPath); const b = readNpy(bPath);
if (a.shape.join('x') !== b.shape.join('x')) {
  console.error(`shape mismatch: ${a.shape} vs ${b.shape}`);
  process.exit(1);
}
const rows = a.shape[0]; const cols = a.data.length / rows;
let same = 0; let maxDiff = 0;
for (let r = 0; r < rows; ++r) {
  let ia = 0; let ib = 0;
  for (let c = 0; c < cols; ++c) {
    const x = a.data[r * cols + c]; const y = b.data[r * cols + c];
    maxDiff = Math.max(maxDiff, Math.abs(x - y) / Math.max(1, Math.abs(y)));
    if (x > a.data[r * cols + ia]) ia = c;
    if (y > b.data[r * cols + ib]) ib = c;
  }
  if (ia === ib) same += 1;
}
console.log(`rows ${rows}: top-1 agreement ${same}/${rows}, max scaled |diff| ${maxDiff.toExponential(3)} (bound ${tol})`);
process.exit(same === rows && maxDiff <= tol ? 0 : 1);
