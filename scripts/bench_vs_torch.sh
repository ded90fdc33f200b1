#!/usr/bin/env bash
# dlwb against PyTorch on this CPU, in one sitting: the three workloads of
# benches/ on 1 and on 2 threads (or THREADS...), each dlwb figure beside
# PyTorch's taken right after it; then the tables of samples/s with each
# side's scaling (2T / 1T) and the ratios, the machine's fp32 GEMM peak
# (torch_bench.py --peak) and MLP training as a share of it, the CPU
# model (figures differ between processors: name it with every figure) and
# the block sizes dlwb's products took from its caches.
# ROUNDS=N repeats the sitting N times, alternating, and prints each
# figure's median. Before each round, engine/examples/handoff.rs measures
# what it costs a core to write memory the other core wrote last: on a VM
# the host may move the vCPUs between cores that share a cache and cores
# that do not, and multi-threaded figures move with it.
# Usage: [ROUNDS=N] scripts/bench_vs_torch.sh [THREADS...]   (default: 1 2;
# needs the peer venv: VENV=/tmp/dlwb-peers-venv bash ../shared/peers/setup_venv.sh --no-jax)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=("$@")
[ ${#threads[@]} -eq 0 ] && threads=(1 2)
venv=${VENV:-/tmp/dlwb-peers-venv}
peers=${PEERS:-../shared/peers}
rounds=${ROUNDS:-1}
cargo build -q --release
cargo build -q --release -p dlwb-engine --example handoff
results=$(mktemp)
probes=$(mktemp)
peak=$("$venv/bin/python" "$peers/torch_bench.py" --peak --peak-threads "$(IFS=,; echo "${threads[*]}")" \
    --workloads mlp --threads "${threads[0]}" 2>/dev/null | grep '"gemm_peak"' || true)
for _ in $(seq "$rounds"); do
    ./target/release/examples/handoff >>"$probes"
    for t in "${threads[@]}"; do
        for w in mlp cnn lstm; do
            echo "dlwb $t $w $(./target/release/dlwb bench "benches/$w.net" --threads "$t" --steps 100)" >>"$results"
            echo "torch $t $w $("$venv/bin/python" "$peers/torch_bench.py" --threads "$t" --workloads "$w" 2>/dev/null | tail -1)" >>"$results"
        done
    done
done
python3 - "$results" "$peak" "$probes" "${threads[@]}" <<'PY'
import json, statistics, subprocess, sys
rows, peaks, threads = open(sys.argv[1]).read().splitlines(), sys.argv[2], [int(t) for t in sys.argv[4:]]
probes = [json.loads(l) for l in open(sys.argv[3]).read().splitlines()]
runs = {}
for r in rows:
    who, t, w, js = r.split(" ", 3)
    runs.setdefault((who, int(t), w), []).append(json.loads(js))
# Each figure: its median over the rounds.
got = {key: {k: statistics.median(m[k] for m in ms) for k in ("train_samples_per_s", "infer_samples_per_s")}
       for key, ms in runs.items()}
model = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name")), "unknown CPU")
rounds = len(probes)
print(f"CPU: {model}; threads {', '.join(map(str, threads))}; samples/s" + (f", medians of {rounds} rounds" if rounds > 1 else ""))
products = next((m["products"] for (who, _, _), ms in runs.items() if who == "dlwb" for m in ms if "products" in m), None)
if products:
    print(f"dlwb's float products: {products}")
print("1 MiB written after the other core / after the same core, before each round: "
      + ", ".join(f"{p['other_core_us_per_mib']:.0f} / {p['same_core_us_per_mib']:.0f} us" for p in probes))
peak = {}
for l in peaks.splitlines():
    m = json.loads(l)
    peak[m["threads"]] = max(peak.get(m["threads"], 0), m["gflops_best"])
if peak:
    print("fp32 GEMM peak (torch_bench.py --peak): " + ", ".join(f"{g:.0f} GFLOP/s on {t} thread{'s' * (t > 1)}" for t, g in sorted(peak.items())))
lo, hi = threads[0], threads[-1]
for k, what in (("train_samples_per_s", "train"), ("infer_samples_per_s", "infer")):
    print()
    print(f"| {what} | dlwb {lo}T | dlwb {hi}T | {hi}T/{lo}T | PyTorch {lo}T | PyTorch {hi}T | {hi}T/{lo}T | dlwb/PyTorch {lo}T | dlwb/PyTorch {hi}T |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in ("mlp", "cnn", "lstm"):
        d = [got[("dlwb", t, w)][k] for t in (lo, hi)]
        p = [got[("torch", t, w)][k] for t in (lo, hi)]
        print(f"| {w} | {d[0]:,.0f} | {d[1]:,.0f} | {d[1] / d[0]:.2f} | {p[0]:,.0f} | {p[1]:,.0f} | {p[1] / p[0]:.2f} | {d[0] / p[0]:.2f} | {d[1] / p[1]:.2f} |")
if hi in peak:
    # 454,400 FLOPs per MLP training sample, as torch_bench.py --peak counts.
    share = got[("dlwb", hi, "mlp")]["train_samples_per_s"] * 454_400 / 1e9 / peak[hi]
    print(f"\nMLP training on {hi} threads: {share:.0%} of the {hi}-thread GEMM peak")
PY
