#!/usr/bin/env bash
# dlwb against PyTorch on the same CPU, same thread count, one workload
# after the other: prints samples/s of both and the ratios.
# Usage: scripts/bench_vs_torch.sh [THREADS]   (needs the peer venv:
# VENV=/tmp/dlwb-peers-venv bash ../shared/peers/setup_venv.sh --no-jax)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
venv=${VENV:-/tmp/dlwb-peers-venv}
peers=${PEERS:-../shared/peers}
cargo build -q --release
for w in mlp cnn lstm; do
    ours=$(./target/release/dlwb bench "benches/$w.net" --threads "$threads" --steps 100)
    theirs=$("$venv/bin/python" "$peers/torch_bench.py" --threads "$threads" --workloads "$w" 2>/dev/null | tail -1)
    python3 - "$w" "$ours" "$theirs" <<'PY'
import json, sys
w, a, b = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
for k in ("train_samples_per_s", "infer_samples_per_s"):
    print(f"{w:5} {k:20} dlwb {a[k]:>10.0f}  torch {b[k]:>10.0f}  ratio {a[k] / b[k]:.2f}")
PY
done
