// The inputs of an ONNX model as ONNX Runtime reads them, with symbolic dims (a batch axis)
// set to 1, for scripts/bench_vs_ort.sh:
//   node model_inputs.js MODEL.onnx --shapes prints two lines: pare's --input-shape arguments,
//                                            then bench_model.js's --shape arguments (both
//                                            empty when every dim is fixed)
//   node model_inputs.js MODEL.onnx --calib OUT.npz SAMPLES
//                                            writes SAMPLES rows per input: seeded uniform
//                                            [0,1) floats, int64 zeros (enough for timing)
'use strict';
const ort = require('onnxruntime-node');
const { writeNpz } = require('./npy');

function fail(message) {
  console.error(`model_inputs: ${message}`);
  process.exit(2);
}

async function main() {
  const [model, mode, out, samplesStr] = process.argv.slice(2);
  if (!model || !['--shapes', '--calib'].includes(mode)) fail('usage: model_inputs.js MODEL.onnx --shapes | --calib OUT.npz SAMPLES');
  const session = await ort.InferenceSession.create(model);
  const inputs = session.inputMetadata.map((m) => ({
    name: m.name, type: m.type,
    shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1)),
    symbolic: m.shape.some((d) => typeof d !== 'number' || d < 0),
  }));
  if (mode === '--shapes') {
    const symbolic = inputs.some((i) => i.symbolic);
    const args = (flag, sep) => (symbolic ? inputs.map((i) => `${flag} ${i.name}${sep}${i.shape.join('x')}`).join(' ') : '');
    console.log(args('--input-shape', ':'));
    console.log(args('--shape', '='));
    return;
  }
  const samples = Number(samplesStr);
  if (!out || !(samples >= 1)) fail('--calib takes OUT.npz SAMPLES');
  const arrays = {};
  let s = 7;
  for (const i of inputs) {
    const shape = [samples, ...i.shape.slice(1)], n = shape.reduce((a, b) => a * b, 1);
    if (i.type === 'float32') {
      const data = new Float32Array(n);
      for (let k = 0; k < n; ++k) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        data[k] = (s >>> 8) / 16777216;
      }
      arrays[i.name] = { data, shape };
    } else if (i.type === 'int64') {
      arrays[i.name] = { data: new BigInt64Array(n), shape };
    } else {
      fail(`input '${i.name}' has type ${i.type}; only float32 and int64 inputs are supported`);
    }
  }
  writeNpz(out, arrays);
}

main().catch((e) => fail(e.message));
