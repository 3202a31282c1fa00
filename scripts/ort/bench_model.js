// Times one ONNX model with ONNX Runtime the way `pare bench --json` times a .pare model:
// session creation (load_ms), W untimed runs, then K timed runs on fixed-seed uniform [0,1)
// float inputs (int64 inputs are zeros). Prints one JSON object.
//   node bench_model.js MODEL.onnx [--threads N] [--iterations K] [--warmup W]
//                       [--shape NAME=D0xD1x...]   (for inputs with symbolic dims)
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const usage = 'usage: node bench_model.js MODEL.onnx [--threads N] [--iterations K] ' +
  '[--warmup W] [--shape NAME=D0xD1x...]';

function fail(message) {
  console.error(`bench_model: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { model: null, threads: 1, iterations: 50, warmup: 5, shapes: {} };
  const count = (flag, value, min) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${flag} takes an integer >= ${min}, got '${value}'`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--threads') args.threads = count(a, argv[++i], 1);
    else if (a === '--iterations') args.iterations = count(a, argv[++i], 1);
    else if (a === '--warmup') args.warmup = count(a, argv[++i], 0);
    else if (a === '--shape') {
      const spec = argv[++i] || '';
      const eq = spec.indexOf('=');
      if (eq <= 0) fail(`--shape takes NAME=D0xD1x..., got '${spec}'`);
      args.shapes[spec.slice(0, eq)] = spec.slice(eq + 1).split('x').map((d) => count('--shape', d, 1));
    } else if (a.startsWith('-') || args.model) fail(usage);
    else args.model = a;
  }
  if (!args.model) fail(usage);
  if (!fs.existsSync(args.model)) fail(`${args.model}: no such file`);
  return args;
}

// xorshift32, as in random_input.js; 24 bits per value so each is exact and below 1.
function uniformFloats(n, seed) {
  let s = seed >>> 0 || 1;
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    data[i] = (s >>> 8) / 16777216;
  }
  return data;
}

function makeFeeds(session, shapes) {
  const feeds = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) fail(`input '${meta.name}' is not a tensor`);
    const shape = shapes[meta.name] || meta.shape;
    if (shape.some((d) => typeof d !== 'number' || d < 0)) {
      fail(`input '${meta.name}' has shape [${meta.shape}] with symbolic dims; ` +
        `give it with --shape ${meta.name}=D0xD1x...`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (meta.type === 'float32') feeds[meta.name] = new ort.Tensor('float32', uniformFloats(n, 42), shape);
    else if (meta.type === 'int64') feeds[meta.name] = new ort.Tensor('int64', new BigInt64Array(n), shape);
    else fail(`input '${meta.name}' has type ${meta.type}; only float32 and int64 inputs are supported`);
  }
  return feeds;
}

function summarize(times) {
  const t = [...times].sort((a, b) => a - b);
  const n = t.length;
  const median = n % 2 ? t[(n - 1) / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  const p90 = t[Math.max(Math.ceil(0.9 * n), 1) - 1];
  const mean = t.reduce((a, b) => a + b, 0) / n;
  return { median_ms: median, p90_ms: p90, min_ms: t[0], mean_ms: mean };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - loadStart;

  const feeds = makeFeeds(session, args.shapes);
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const times = [];
  for (let i = 0; i < args.iterations; ++i) {
    const start = performance.now();
    await session.run(feeds);
    times.push(performance.now() - start);
  }
  console.log(JSON.stringify({
    model: args.model,
    runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
    threads: args.threads,
    warmup: args.warmup,
    iterations: args.iterations,
    load_ms: loadMs,
    ...summarize(times),
    peak_rss_kb: process.resourceUsage().maxRSS,
  }, null, 2));
}

main().catch((e) => { console.error(`bench_model: ${e.message}`); process.exit(1); });
