#!/usr/bin/env python3
"""PyTorch's int8 LeNet on this CPU: the peer for `examples/mnist_lenet_compress.net`.

`quantize_dynamic` leaves convolutions in float, so a LeNet's int8 figure in
PyTorch comes from static quantization: FX graph mode with the `x86` backend
(fbgemm), int8 weights per output channel, activations calibrated on a few
batches, conv+ReLU fused. Prints one JSON line: float and int8 inference
samples/s at batch 64 (the median of three timed repeats, as the peers do).

Usage: $VENV/bin/python scripts/torch_int8_lenet.py [--threads 2] [--batch 64]
(VENV from ../shared/peers/setup_venv.sh; run from the project root.)
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers"))
from torch_bench import time_loop  # noqa: E402


def lenet():
    """The layers of examples/mnist_lenet_compress.net."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    model = lenet().eval()
    xs = [torch.rand(a.batch, 1, 28, 28) for _ in range(16)]
    prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), example_inputs=(xs[0],))
    with torch.inference_mode():
        for x in xs[:8]:
            prepared(x)
    q = convert_fx(prepared)
    out = {"threads": a.threads, "batch": a.batch, "engine": torch.backends.quantized.engine}
    for name, m in (("float", model), ("int8", q)):
        with torch.inference_mode():
            rate = time_loop(lambda i: m(xs[i % len(xs)]), 0.5, a.seconds, 3) * a.batch
        out[f"{name}_infer_samples_per_s"] = round(rate, 1)
    out["int8_speedup"] = round(out["int8_infer_samples_per_s"] / out["float_infer_samples_per_s"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
