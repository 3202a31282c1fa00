#!/usr/bin/env python3
"""Times two pare binaries on the same .pare models, taking turns, and prints the median over
the rounds of each round's median, p90 and mean latency (pare bench --json).

  scripts/bench_ab.py OLD_PARE NEW_PARE [--rounds R] [--threads T] [--iterations N] MODEL.pare ...

Taking turns makes drift in machine load hit both binaries alike; compare the two rows of a
model, not numbers from different runs. To see behaviour while another process holds a core,
run a busy loop next to it, e.g. `timeout 300 sh -c 'while :; do :; done' &`. It reports and
never judges: exit 0 unless a binary fails."""
import argparse
import json
import statistics
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--iterations", default="200")
    args = ap.parse_args()
    print("| model | threads | binary | median ms | p90 ms | mean ms |")
    print("|---|---:|---|---:|---:|---:|")
    for model in args.models:
        runs = {"old": [], "new": []}
        for _ in range(args.rounds):
            for name, binary in (("old", args.old), ("new", args.new)):
                cmd = [binary, "bench", model, "-t", args.threads, "-n", args.iterations, "--json"]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
                d = json.loads(proc.stdout)
                runs[name].append((d["median_ms"], d["p90_ms"], d["mean_ms"]))
        for name in ("old", "new"):
            med = [statistics.median(r[i] for r in runs[name]) for i in range(3)]
            print(f"| {model.split('/')[-1]} | {args.threads} | {name} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.3f} |")


if __name__ == "__main__":
    main()
