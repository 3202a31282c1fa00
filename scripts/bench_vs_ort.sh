#!/usr/bin/env bash
# Times pare against ONNX Runtime (onnxruntime-node) on the same models, fp32, and prints a
# markdown table: median latency of each, their ratio, load time and peak RSS.
#   scripts/bench_vs_ort.sh [--iterations K] [--warmup W] [--rounds R] [--threads "1 2"]
#                           [MODEL.onnx ...]
# Default models: testdata/models/*.onnx, plus ../shared/models/mobilenet_v2_224.onnx when
# present. Each measurement runs in its own process (so peak RSS is per process), and for
# each model and thread count the two runtimes take turns for R rounds of W + K runs, so
# drift in machine load hits both; the table gives the median over the rounds of each
# round's median (load time and RSS likewise). PARE=path/to/pare picks the binary (default
# build/tools/pare, built when missing). It reports and never judges: exit 0 unless its own
# arguments are wrong.
set -euo pipefail
cd "$(dirname "$0")/.."

iterations=50
warmup=5
rounds=3
threads="1 2"
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "bench_vs_ort: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
for n in "$iterations" "$rounds" $threads; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench_vs_ort: '$n' is not a positive count" >&2; exit 2; }
done
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "bench_vs_ort: --warmup '$warmup' is not a count" >&2; exit 2; }
if [ ${#models[@]} -eq 0 ]; then
  models=(testdata/models/*.onnx)
  [ -f ../shared/models/mobilenet_v2_224.onnx ] && models+=(../shared/models/mobilenet_v2_224.onnx)
fi
for m in "${models[@]}"; do
  [ -f "$m" ] || { echo "bench_vs_ort: $m not found" >&2; exit 2; }
done

scripts/ort/install.sh
pare=${PARE:-build/tools/pare}
if ! "$pare" bench --help >/dev/null 2>&1; then
  [ -n "${PARE:-}" ] && { echo "bench_vs_ort: $pare has no bench command" >&2; exit 2; }
  scripts/build.sh
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit + local changes"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ort: onnxruntime-node $(node -p "require('./scripts/ort/node_modules/onnxruntime-node/package.json').version")"
echo "runs: $rounds rounds x ($warmup warmup + $iterations timed) per runtime, model and thread count"
echo

# One JSON result per line in $work/results.jsonl, tagged with model, threads and runtime.
record() {  # record NAME THREADS RUNTIME JSON_FILE
  node -e '
    const [name, threads, runtime, file] = process.argv.slice(1);
    const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
    console.log(JSON.stringify({ name, threads: Number(threads), runtime,
      median_ms: r.median_ms, load_ms: r.load_ms, peak_rss_kb: r.peak_rss_kb, isa: r.isa }));
  ' "$@" >> "$work/results.jsonl"
}

failed() {  # failed NAME THREADS RUNTIME LOG
  echo "{\"name\":\"$1\",\"threads\":$2,\"runtime\":\"$3\",\"failed\":true}" >> "$work/results.jsonl"
  echo "bench_vs_ort: $3 failed on $1 ($2 threads):" >&2
  tail -n 5 "$4" >&2
}

run_pare() {  # run_pare NAME PARE_FILE THREADS
  if "$pare" bench "$2" --json --threads "$3" --iterations "$iterations" --warmup "$warmup" \
       > "$work/out.json" 2> "$work/err.log"; then
    record "$1" "$3" pare "$work/out.json"
  else
    failed "$1" "$3" pare "$work/err.log"
  fi
}

run_ort() {  # run_ort NAME ONNX_FILE THREADS
  if node scripts/ort/bench_model.js "$2" --threads "$3" --iterations "$iterations" \
       --warmup "$warmup" > "$work/out.json" 2> "$work/err.log"; then
    record "$1" "$3" ort "$work/out.json"
  else
    failed "$1" "$3" ort "$work/err.log"
  fi
}

for onnx in "${models[@]}"; do
  name=$(basename "$onnx" .onnx)
  # ONNX test suites call every file model.onnx; their folder names them.
  [ "$name" = model ] && name=$(basename "$(dirname "$onnx")")
  echo "benchmarking $name" >&2
  converted=true
  if ! "$pare" convert "$onnx" -o "$work/$name.pare" > /dev/null 2> "$work/err.log"; then
    converted=false
  fi
  for t in $threads; do
    for ((r = 1; r <= rounds; ++r)); do
      # Alternate which runtime goes first, so neither always runs right after the other.
      if ((r % 2)); then order="pare ort"; else order="ort pare"; fi
      for runtime in $order; do
        if [ "$runtime" = ort ]; then
          run_ort "$name" "$onnx" "$t"
        elif $converted; then
          run_pare "$name" "$work/$name.pare" "$t"
        else
          failed "$name" "$t" pare "$work/err.log"
        fi
      done
    done
  done
done

node -e '
  const fs = require("fs");
  const rows = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b), n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  };
  const groups = new Map();
  for (const r of rows) {
    const key = `${r.name}\t${r.threads}`;
    if (!groups.has(key)) groups.set(key, { name: r.name, threads: r.threads, pare: [], ort: [] });
    groups.get(key)[r.runtime].push(r);
  }
  // Median over the rounds; a runtime that failed in any round shows "failed".
  const stat = (runs, field) =>
    runs.length && runs.every((r) => !r.failed) ? median(runs.map((r) => r[field])) : null;
  const ms = (v) => (v === null ? "failed" : v < 10 ? v.toFixed(3) : v.toFixed(1));
  const mib = (kb) => (kb === null ? "failed" : (kb / 1024).toFixed(1));
  const isa = rows.find((r) => r.isa);
  console.log("| model | threads | pare median ms | ORT median ms | pare/ORT | pare load ms | ORT load ms | pare peak RSS MiB | ORT peak RSS MiB |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const g of groups.values()) {
    const pm = stat(g.pare, "median_ms"), om = stat(g.ort, "median_ms");
    const ratio = pm !== null && om !== null ? (pm / om).toFixed(2) : "n/a";
    console.log(`| ${g.name} | ${g.threads} | ${ms(pm)} | ${ms(om)} | ${ratio} | ` +
      `${ms(stat(g.pare, "load_ms"))} | ${ms(stat(g.ort, "load_ms"))} | ` +
      `${mib(stat(g.pare, "peak_rss_kb"))} | ${mib(stat(g.ort, "peak_rss_kb"))} |`);
  }
  console.log();
  console.log(`pare ISA: ${isa ? isa.isa : "n/a"}; load average at the end: ${process.argv[2]}`);
' "$work/results.jsonl" "$(cut -d' ' -f1-3 /proc/loadavg)"
