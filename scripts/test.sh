#!/usr/bin/env bash
# Every test, on a fresh machine: installs what the tests need beyond Rust,
# then runs them. README.md names this command; .ci/run runs exactly it.
#
# - tmux, for the dashboard's real-terminal test, rsvg-convert
#   (librsvg2-bin), which draws the report's SVG charts, and Slurm with
#   munge, for the job-array test's single-node cluster
#   (scripts/slurm-local.sh starts it) (Debian).
# - A Python venv at target/test-venv with the tools that read dlwb's
#   output the way users do: onnxruntime (ONNX exports), tensorboard
#   (event files), numpy and pillow beside them (PyPI, pinned in
#   scripts/test-requirements.txt).
# - dfdx's CUDA path type-checked (no GPU or toolkit needed).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${b%%:*}" >/dev/null 2>&1 || missing+=("${b#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

VENV=target/test-venv
REQS=scripts/test-requirements.txt
if ! cmp -s "$REQS" "$VENV/requirements.txt" 2>/dev/null; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 leaves venv (ensurepip) to a package of its own.
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/requirements.txt"
fi
export DLWB_TEST_PYTHON="$PWD/$VENV/bin/python"

cargo check -q -p dlwb-engine --features cuda-check
cargo test --workspace "$@"
