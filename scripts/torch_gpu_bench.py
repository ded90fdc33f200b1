#!/usr/bin/env python3
"""PyTorch eager on the GPU, the peer of `dlwb bench --device cuda`.

The three workloads of ../shared/peers/torch_bench.py (the models of
benches/*.net: MLP 784-128-64-10 with Adam, the tutorial's LeNet on 3x32x32
with SGD momentum, LSTM 64->128 over 32 steps with Adam) on synthetic data
in fp32 with TF32 off (as dlwb computes). Each figure is the median of
three repeats of at least --seconds, after warm-up, timed with the GPU
synchronized. Two ways: `train_samples_per_s` and `infer_samples_per_s`
copy each batch from host memory, as dlwb does (its data sets live on the
host, and each batch goes up on its own); `*_device_data` keep the batch
on the GPU throughout. Prints one JSON line per workload and batch.

Usage: scripts/torch_gpu_bench.py [--batches default,1024] [--seconds 1]
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

CLASSES = 10


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, CLASSES)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(64, 128, batch_first=True), nn.Linear(128, CLASSES)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.fc(h[-1])


def mlp():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, CLASSES))


WORKLOADS = {
    "mlp": (mlp, lambda p: torch.optim.Adam(p, lr=1e-3), 64, (784,)),
    "cnn": (LeNet, lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9), 128, (3, 32, 32)),
    "lstm": (Lstm, lambda p: torch.optim.Adam(p, lr=1e-3), 32, (32, 64)),
}


def rate(step, batch, seconds):
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    rates = []
    for _ in range(3):
        n, t = 0, time.perf_counter()
        while n < 20 or time.perf_counter() - t < seconds:
            step()
            n += 1
        torch.cuda.synchronize()
        rates.append(n * batch / (time.perf_counter() - t))
    return statistics.median(rates)


def measure(name, batch, seconds):
    make, opt_of, default_batch, shape = WORKLOADS[name]
    batch = batch or default_batch
    dev = torch.device("cuda")
    model = make().to(dev)
    opt = opt_of(model.parameters())
    x_host = torch.randn(batch, *shape)
    y_host = torch.randint(0, CLASSES, (batch,))
    x, y = x_host.to(dev), y_host.to(dev)
    loss_fn = nn.CrossEntropyLoss()

    def train(from_host):
        xb, yb = (x_host.to(dev), y_host.to(dev)) if from_host else (x, y)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        loss.item()  # what dlwb downloads each step

    def infer(from_host):
        with torch.no_grad():
            model(x_host.to(dev) if from_host else x).cpu()

    return {
        "workload": name,
        "batch": batch,
        "train_samples_per_s": rate(lambda: train(True), batch, seconds),
        "infer_samples_per_s": rate(lambda: infer(True), batch, seconds),
        "train_device_data": rate(lambda: train(False), batch, seconds),
        "infer_device_data": rate(lambda: infer(False), batch, seconds),
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", default="mlp,cnn,lstm")
    ap.add_argument("--batches", default="default,1024")
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name in a.workloads.split(","):
        for b in a.batches.split(","):
            print(json.dumps(measure(name, None if b == "default" else int(b), a.seconds)), flush=True)


if __name__ == "__main__":
    main()
