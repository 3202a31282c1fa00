// Writes a float32 .npy of uniform [0,1) values from a seeded generator (xorshift32).
//   node random_input.js OUTPUT.npy SEED D0 D1 ...
'use strict';
const { writeNpy } = require('./npy');

const [outPath, seedStr, ...dims] = process.argv.slice(2);
const shape = dims.map(Number);
const n = shape.reduce((a, b) => a * b, 1);
let s = (Number(seedStr) >>> 0) || 1;
const data = new Float32Array(n);
for (let i = 0; i < n; ++i) {
  s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
  data[i] = s / 4294967296;
}
writeNpy(outPath, data, shape);
