#!/usr/bin/env bash
# The CUDA backend's checks on a machine with an NVIDIA GPU (issue 16), as
# one command that prints `N passed, N failed` at the end:
#   parity    every layer kind, loss and optimizer on CUDA against the CPU
#             (outputs, loss, named gradients, 5 optimizer steps later);
#   examples  mnist_mlp, mnist_lenet and lstm train on CUDA and meet their
#             `expect` blocks (the accuracies the CPU reaches);
#   bench     `dlwb bench --device cuda` on benches/*.net at their batch and
#             at 1024, beside PyTorch eager on the same GPU
#             (scripts/torch_gpu_bench.py); at batch 1024 dlwb must keep up.
# Usage: scripts/gpu_check.sh [parity] [examples] [bench]   (default: all)
#
# The binaries: DLWB_BIN (default target/release/dlwb) and
# DLWB_ENGINE_TESTS (the engine's unit-test binary, as
# `cargo test -p dlwb-engine --lib --no-run` prints it). A GPU machine with
# no Rust toolchain is handed both, built elsewhere; the CUDA libraries are
# found beside the machine's PyTorch (its nvidia/*/lib wheels) or on
# LD_LIBRARY_PATH.
set -uo pipefail
cd "$(dirname "$0")/.."

DLWB=${DLWB_BIN:-target/release/dlwb}
TESTS=${DLWB_ENGINE_TESTS:-}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(parity examples bench)
passed=0
failed=0

# cuBLAS and NVRTC from PyTorch's wheels, where the machine has them.
if sp=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null); then
    for d in "$sp"/nvidia/*/lib; do
        [ -d "$d" ] && LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
    done
    export LD_LIBRARY_PATH
fi

check() {
    local name=$1
    shift
    echo "--- $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "PASS $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}

"$DLWB" devices || true

for part in "${parts[@]}"; do
    case $part in
    parity)
        if [ -z "$TESTS" ]; then
            TESTS=$(cargo test -q -p dlwb-engine --lib --no-run --message-format=json 2>/dev/null |
                python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("profile", {}).get("test") and m.get("executable"): print(m["executable"])' | head -1)
        fi
        for t in layers sequences losses optimizers; do
            check "parity: $t" "$TESTS" --ignored --exact "tests::cuda_parity::${t}_match_the_cpu"
        done
        ;;
    examples)
        runs=$(mktemp -d)
        for ex in mnist_mlp mnist_lenet lstm; do
            check "example $ex on CUDA" timeout 600 "$DLWB" --headless --device cuda --runs-dir "$runs" "examples/$ex.net"
        done
        # A checkpoint written on the GPU resumes on the CPU.
        moved=$(mktemp -d)
        check "2 epochs on CUDA, resumed on the CPU" bash -c "
            '$DLWB' --headless --device cuda --runs-dir '$moved' --epochs 2 --limit-batches 50 examples/mnist_mlp.net >/dev/null 2>&1
            run=\$(ls -d '$moved'/mnist_mlp/*/ | head -1)
            '$DLWB' --headless --device cpu --resume \"\$run\" --epochs 3 2>&1 | tail -2
            grep -q 'epochs_run: 3' \"\$run/run.yaml\" && grep -q '^status: completed' \"\$run/run.yaml\""
        ;;
    bench)
        peer=$(python3 scripts/torch_gpu_bench.py --seconds 1 2>&1) || echo "$peer"
        echo "samples/s; torch: each batch copied from host memory as dlwb does (in brackets: the batch kept on the GPU)"
        printf '%-6s %6s %12s %24s %12s %24s %6s %6s\n' workload batch "dlwb train" "torch train" "dlwb infer" "torch infer" train infer
        for w in mlp cnn lstm; do
            for b in default 1024; do
                set_batch=()
                [ "$b" != default ] && set_batch=(--set "train.batch=$b")
                ours=$("$DLWB" bench --device cuda "benches/$w.net" "${set_batch[@]}" --seconds 1) || { failed=$((failed + 1)); echo "FAIL bench $w $b"; continue; }
                theirs=$(echo "$peer" | grep "\"workload\": \"$w\"" | { [ "$b" = default ] && head -1 || tail -1; })
                line=$(python3 -c "import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rt, ri = o['train_samples_per_s'] / t['train_samples_per_s'], o['infer_samples_per_s'] / t['infer_samples_per_s']
print('%-6s %6d %12.0f %11.0f (%10.0f) %12.0f %11.0f (%10.0f) %6.2f %6.2f' % ('$w', o['batch'], o['train_samples_per_s'], t['train_samples_per_s'], t['train_device_data'], o['infer_samples_per_s'], t['infer_samples_per_s'], t['infer_device_data'], rt, ri))
print('ok' if min(rt, ri) >= 1.0 else 'slower')" "$ours" "$theirs")
                echo "$line" | head -1
                if [ "$b" = 1024 ]; then
                    check "bench $w at batch 1024 keeps up with PyTorch" test "$(echo "$line" | tail -1)" = ok
                fi
            done
        done
        ;;
    *)
        echo "unknown part $part: parity, examples or bench" >&2
        exit 2
        ;;
    esac
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
