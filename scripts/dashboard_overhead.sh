#!/usr/bin/env bash
# The dashboard's cost: the same training (MNIST MLP, 3 epochs) run
# headless and in the dashboard (under tmux), timed from run.yaml's start and
# end stamps. Prints both durations and the overhead in percent.
# Usage: scripts/dashboard_overhead.sh [EPOCHS]   (needs tmux and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-3}
bin=$PWD/target/release/dlwb
runs=$(mktemp -d)
duration() { # run.yaml -> seconds between started and finished
    python3 - "$1" <<'PY'
import sys, re, datetime
t = open(sys.argv[1]).read()
get = lambda k: datetime.datetime.fromisoformat(re.search(rf"^{k}: (\S+)", t, re.M).group(1).replace("Z", "+00:00"))
print(f"{(get('finished') - get('started')).total_seconds():.3f}")
PY
}
"$bin" --headless examples/mnist_mlp.net --epochs "$epochs" --runs-dir "$runs/headless" >/dev/null 2>&1 || true
tmux -L dlwb-overhead kill-server 2>/dev/null || true
tmux -L dlwb-overhead new-session -d -x 120 -y 40 "$bin examples/mnist_mlp.net --epochs $epochs --runs-dir $runs/dashboard"
until grep -q "^finished: 2" "$runs"/dashboard/*/*/run.yaml 2>/dev/null; do sleep 0.2; done
tmux -L dlwb-overhead send-keys q; sleep 1; tmux -L dlwb-overhead kill-server 2>/dev/null || true
h=$(duration "$runs"/headless/*/*/run.yaml)
d=$(duration "$runs"/dashboard/*/*/run.yaml)
python3 -c "h, d = $h, $d; print(f'headless {h:.2f} s, dashboard {d:.2f} s, overhead {100 * (d - h) / h:+.1f}%')"
