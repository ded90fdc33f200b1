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
# - NVRTC (the `nvidia-cuda-nvrtc` wheel, about 90 MB, in target/nvrtc), so
#   that every CUDA kernel source is really compiled to PTX for sm_80 and
#   sm_90 with no GPU (engine: every_kernel_compiles_to_ptx_...). The GPU
#   tests themselves are `#[ignore]`d here with their reason;
#   scripts/gpu_check.sh runs them on a GPU machine.
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

NVRTC=target/nvrtc
NVRTC_WHEEL="nvidia-cuda-nvrtc==13.0.88"
if [ ! -e "$NVRTC/nvidia/cu13/lib/libnvrtc.so.13" ]; then
    rm -rf "$NVRTC"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --target "$NVRTC" "$NVRTC_WHEEL"
fi
export LD_LIBRARY_PATH="$PWD/$NVRTC/nvidia/cu13/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export DLWB_REQUIRE_NVRTC=1

cargo test --workspace "$@"
