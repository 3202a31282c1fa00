#!/usr/bin/env bash
# Times pare against ONNX Runtime (onnxruntime-node) on the same models, fp32, and prints a
# markdown table: median latency of each, their ratio, load time and peak RSS.
#   scripts/bench_vs_ort.sh [--iterations K] [--warmup W] [--rounds R] [--threads "1 2"]
#                           [--int8 [--calib DATA.npy] [--weight-type int8|uint8]] [MODEL.onnx ...]
# --int8: pare compress (int8) each model, then time pare on the int8 .pare, ONNX Runtime on
# pare's QDQ export of it (pare export-onnx), and pare's float .pare, all in the same rounds;
# the table adds pare's float median and int8/fp32. --weight-type uint8 exports the weights as
# uint8 (pare export-onnx --weight-type): ONNX Runtime's exact path on x86-64 CPUs without
# VNNI, where its int8-weight kernels saturate (and are faster for it). Calibration: --calib, else
# testdata/data/fmnist_calib_500.npy for models taking [1,1,28,28], else 16 seeded samples
# of each input (uniform floats, int64 zeros: enough for timing, not for accuracy). Inputs
# with symbolic dims (a batch axis) run with them set to 1.
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
int8=false
calib=""
weight_type=int8
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --int8) int8=true; shift ;;
    --calib) calib=$2; shift 2 ;;
    --weight-type) weight_type=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "bench_vs_ort: unknown option $1" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
for n in "$iterations" "$rounds" $threads; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench_vs_ort: '$n' is not a positive count" >&2; exit 2; }
done
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "bench_vs_ort: --warmup '$warmup' is not a count" >&2; exit 2; }
[[ "$weight_type" =~ ^u?int8$ ]] || { echo "bench_vs_ort: --weight-type '$weight_type' is not int8 or uint8" >&2; exit 2; }
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
$int8 && echo "int8: ONNX Runtime on pare's QDQ export with $weight_type weights"
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

run_pare() {  # run_pare NAME PARE_FILE THREADS [RUNTIME_LABEL]
  if "$pare" bench "$2" --json --threads "$3" --iterations "$iterations" --warmup "$warmup" \
       > "$work/out.json" 2> "$work/bench.log"; then
    record "$1" "$3" "${4:-pare}" "$work/out.json"
  else
    failed "$1" "$3" "${4:-pare}" "$work/bench.log"
  fi
}

run_ort() {  # run_ort NAME ONNX_FILE THREADS (inputs with symbolic dims: $ort_shapes)
  # shellcheck disable=SC2086
  if node scripts/ort/bench_model.js "$2" --threads "$3" --iterations "$iterations" \
       --warmup "$warmup" $ort_shapes > "$work/out.json" 2> "$work/err.log"; then
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
  # Symbolic dims (a batch axis) are set to 1 for both runtimes.
  node scripts/ort/model_inputs.js "$onnx" --shapes > "$work/shapes" 2> "$work/err.log" || converted=false
  pare_shapes=$(sed -n 1p "$work/shapes")
  ort_shapes=$(sed -n 2p "$work/shapes")
  # shellcheck disable=SC2086
  if $converted && ! "$pare" convert "$onnx" -o "$work/$name.pare" $pare_shapes > /dev/null 2> "$work/err.log"; then
    converted=false
  fi
  ort_model=$onnx
  pare_model=$work/$name.pare
  runtimes="pare ort"
  if $int8 && $converted; then
    data=$calib
    if [ -z "$data" ]; then
      shape=$("$pare" inspect --json "$work/$name.pare" |
              node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(j.inputs[0].shape.join(" "))')
      if [ "$shape" = "1 1 28 28" ]; then
        data=testdata/data/fmnist_calib_500.npy
      else
        data=$work/$name.calib.npz
        node scripts/ort/model_inputs.js "$onnx" --calib "$data" 16
      fi
    fi
    # shellcheck disable=SC2086
    if "$pare" compress "$onnx" -o "$work/$name.int8.pare" --calib "$data" $pare_shapes > /dev/null 2> "$work/err.log" &&
       "$pare" export-onnx "$work/$name.int8.pare" -o "$work/$name.qdq.onnx" --weight-type "$weight_type" > /dev/null 2>> "$work/err.log"; then
      ort_model=$work/$name.qdq.onnx
      pare_model=$work/$name.int8.pare
      runtimes="pare ort pare_fp32"
      name="$name int8"
    else
      converted=false
    fi
  fi
  for t in $threads; do
    for ((r = 1; r <= rounds; ++r)); do
      # Alternate which runtime goes first, so neither always runs right after the other.
      if ((r % 2)); then order=$runtimes; else order=$(echo "$runtimes" | tr ' ' '\n' | tac | tr '\n' ' '); fi
      for runtime in $order; do
        if [ "$runtime" = ort ]; then
          run_ort "$name" "$ort_model" "$t"
        elif ! $converted; then
          failed "$name" "$t" "$runtime" "$work/err.log"
        elif [ "$runtime" = pare ]; then
          run_pare "$name" "$pare_model" "$t"
        else
          run_pare "$name" "$work/$(basename "$onnx" .onnx).pare" "$t" pare_fp32
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
    if (!groups.has(key)) groups.set(key, { name: r.name, threads: r.threads, pare: [], ort: [], pare_fp32: [] });
    groups.get(key)[r.runtime].push(r);
  }
  // Median over the rounds; a runtime that failed in any round shows "failed".
  const stat = (runs, field) =>
    runs.length && runs.every((r) => !r.failed) ? median(runs.map((r) => r[field])) : null;
  const ms = (v) => (v === null ? "failed" : v < 10 ? v.toFixed(3) : v.toFixed(1));
  const mib = (kb) => (kb === null ? "failed" : (kb / 1024).toFixed(1));
  const isa = rows.find((r) => r.isa);
  const int8 = rows.some((r) => r.runtime === "pare_fp32");
  console.log("| model | threads | pare median ms | ORT median ms | pare/ORT | pare load ms | ORT load ms | pare peak RSS MiB | ORT peak RSS MiB |" +
              (int8 ? " pare fp32 median ms | int8/fp32 |" : ""));
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + (int8 ? "---:|---:|" : ""));
  for (const g of groups.values()) {
    const pm = stat(g.pare, "median_ms"), om = stat(g.ort, "median_ms");
    const ratio = pm !== null && om !== null ? (pm / om).toFixed(2) : "n/a";
    let extra = "";
    if (int8) {
      const fm = stat(g.pare_fp32, "median_ms");
      extra = ` ${ms(fm)} | ${pm !== null && fm !== null ? (pm / fm).toFixed(2) : "n/a"} |`;
    }
    console.log(`| ${g.name} | ${g.threads} | ${ms(pm)} | ${ms(om)} | ${ratio} | ` +
      `${ms(stat(g.pare, "load_ms"))} | ${ms(stat(g.ort, "load_ms"))} | ` +
      `${mib(stat(g.pare, "peak_rss_kb"))} | ${mib(stat(g.ort, "peak_rss_kb"))} |` + extra);
  }
  console.log();
  console.log(`pare ISA: ${isa ? isa.isa : "n/a"}; load average at the end: ${process.argv[2]}`);
' "$work/results.jsonl" "$(cut -d' ' -f1-3 /proc/loadavg)"
