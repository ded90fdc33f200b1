"""PyTorch reference values for dlwb's engine tests.

For each small model: its .net source, the initial weights (named as dlwb
names them), an input batch and targets, then PyTorch's output, loss,
gradient of every parameter, batch-norm running statistics after one
training pass, and each optimizer's parameters after two updates.

Run: /tmp/dlwb-peers-venv/bin/python scripts/reference/make_fixtures.py
(the venv comes from ../shared/peers/setup_venv.sh). Writes
engine/tests/fixtures/torch.json.
"""
import json
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)


class Seq(nn.Module):
    """Runs layers in order; sequence models apply Linear per step."""

    def __init__(self, layers, names):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.names = names  # dlwb name of each layer (None: no parameters)

    def forward(self, x):
        for layer in self.layers:
            if isinstance(layer, (nn.LSTM, nn.GRU, nn.RNN)):
                x, _ = layer(x)
            else:
                x = layer(x)
        return x

    def named(self):
        """Parameters and buffers under dlwb's names."""
        out = {}
        for layer, name in zip(self.layers, self.names):
            if name is None:
                continue
            for pname, p in list(layer.named_parameters()) + list(layer.named_buffers()):
                if pname == "num_batches_tracked":
                    continue
                out[f"{name}.{pname.replace('_l0', '')}"] = p
        return out


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def loss_of(kind, y, t):
    if kind == "cross_entropy":
        return F.cross_entropy(y.reshape(-1, y.shape[-1]), t.reshape(-1))
    if kind == "mse":
        return F.mse_loss(y, t)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(y, t)
    raise ValueError(kind)


def case(name, source, make, x, t, loss="cross_entropy", t_dlwb=None, tokens=False):
    model = make()
    init = {k: flat(v) for k, v in model.named().items()}
    model.train()
    y = model(x)
    l = loss_of(loss, y, t)
    l.backward()
    grads = {k: flat(p.grad) for k, p in model.named().items() if p.grad is not None}
    buffers = {k: flat(v) for k, v in model.named().items() if "running" in k}
    return {
        "name": name,
        "source": source,
        "init": init,
        "x": [int(v) for v in x.reshape(-1)] if tokens else flat(x),
        "tokens": tokens,
        "batch": x.shape[0],
        "targets": t_dlwb if t_dlwb is not None else [int(v) for v in t.reshape(-1)],
        "output": flat(y),
        "loss": l.item(),
        "grads": grads,
        "buffers_after": buffers,
    }


cases = []

x = torch.randn(4, 6)
labels = torch.tensor([0, 2, 1, 2])
mlp = lambda: Seq([nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)], ["dense1", None, "dense2"])
cases.append(case("mlp", "data synthetic { shape [6]; classes 3 }\nmodel { dense 5 relu; dense 3 }", mlp, x, labels))

cases.append(case(
    "activations",
    "data synthetic { shape [6]; classes 3 }\nmodel { dense 5; sigmoid; dense 5; tanh; dense 5; gelu; dense 5; leaky_relu slope=0.2; dense 4; layernorm; dense 3; softmax }",
    lambda: Seq([nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 5), nn.GELU(),
                 nn.Linear(5, 5), nn.LeakyReLU(0.2), nn.Linear(5, 4), nn.LayerNorm(4), nn.Linear(4, 3), nn.Softmax(-1)],
                ["dense1", None, "dense2", None, "dense3", None, "dense4", None, "dense5", "layernorm1", "dense6", None]),
    x, labels))

xc = torch.randn(2, 2, 7, 7)
cases.append(case(
    "conv_maxpool",
    "data synthetic { shape [2, 7, 7]; classes 3 }\nmodel { conv 3 kernel=3 stride=2 pad=1 relu; pool max 2; flatten; dense 3 }",
    lambda: Seq([nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 3)],
                ["conv1", None, None, None, "dense1"]),
    xc, torch.tensor([1, 2])))

xl = torch.randn(3, 1, 28, 28)
cases.append(case(
    "lenet",
    "data mnist { path \"d\" }\nmodel { conv 6 kernel=5 pad=2 relu; pool max 2; conv 16 kernel=5 relu; pool max 2; flatten; dense 120 relu; dense 84 relu; dense classes }",
    lambda: Seq([nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                 nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)],
                ["conv1", None, None, "conv2", None, None, None, "dense1", None, "dense2", None, "dense3"]),
    xl, torch.tensor([3, 7, 1])))

xb = torch.randn(3, 1, 6, 6)
cases.append(case(
    "conv_batchnorm_avgpool",
    "data synthetic { shape [1, 6, 6]; classes 2 }\nmodel { conv 2 kernel=3 pad=1; batchnorm; pool avg 2; flatten; dense 2 }",
    lambda: Seq([nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(18, 2)],
                ["conv1", "batchnorm1", None, None, "dense1"]),
    xb, torch.tensor([0, 1, 1])))

cases.append(case(
    "dense_batchnorm",
    "data synthetic { shape [6]; classes 3 }\nmodel { dense 5; batchnorm; relu; dense 3 }",
    lambda: Seq([nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3)], ["dense1", "batchnorm1", None, "dense2"]),
    x, labels))

tokens = torch.randint(0, 5, (2, 4))
next_tokens = torch.randint(0, 5, (2, 4))
for cell, module in [("lstm", nn.LSTM), ("gru", nn.GRU), ("rnn", nn.RNN)]:
    cases.append(case(
        f"embed_{cell}",
        f"data text {{ path \"x\"; window 4 }}\nmodel {{ embed 3; {cell} 6; dense vocab }}",
        lambda module=module: Seq([nn.Embedding(5, 3), module(3, 6, batch_first=True), nn.Linear(6, 5)],
                                  ["embed1", f"{module.__name__.lower()}1", "dense1"]),
        tokens, next_tokens, tokens=True))

seq = torch.randn(3, 5, 1)
t_values = torch.randn(3, 5, 1)
cases.append(case(
    "gru_mse",
    "data synthetic sine { window 5 }\nmodel { gru 4; dense 1 }\ntrain { loss mse }",
    lambda: Seq([nn.GRU(1, 4, batch_first=True), nn.Linear(4, 1)], ["gru1", "dense1"]),
    seq, t_values, loss="mse", t_dlwb=flat(t_values)))

xs = torch.randn(4, 2)
cases.append(case("bce", "data synthetic spirals { classes 2 }\nmodel { dense 4 tanh; dense 1 }\ntrain { loss bce }",
         lambda: Seq([nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)], ["dense1", None, "dense2"]),
         xs, torch.tensor([[1.0], [0.0], [0.0], [1.0]]), loss="bce", t_dlwb=[1, 0, 0, 1]))

# Two updates of every optimizer on the MLP case.
optimizers = [
    ("optimizer sgd lr=0.1", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("optimizer sgd lr=0.1 momentum=0.9", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("optimizer sgd lr=0.1 momentum=0.9 nesterov=true weight_decay=0.01",
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("optimizer adam lr=0.01", lambda p: torch.optim.Adam(p, lr=0.01)),
    ("optimizer adam lr=0.01 weight_decay=0.1", lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ("optimizer adamw lr=0.01 weight_decay=0.1", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("optimizer rmsprop lr=0.01", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("optimizer rmsprop lr=0.01 momentum=0.5", lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5)),
    ("optimizer adagrad lr=0.1", lambda p: torch.optim.Adagrad(p, lr=0.1)),
    ("optimizer adadelta lr=1.0", lambda p: torch.optim.Adadelta(p, lr=1.0)),
]
updates = []
# The same initial weights as the "mlp" case above.
init = {k: torch.tensor(v) for k, v in cases[0]["init"].items()}
for line, make_opt in optimizers:
    model = mlp()
    with torch.no_grad():
        for k, p in model.named().items():
            p.copy_(init[k].reshape(p.shape))
    opt = make_opt(list(model.parameters()))
    for _ in range(2):
        opt.zero_grad()
        loss_of("cross_entropy", model(x), labels).backward()
        opt.step()
    updates.append({"train": line, "after": {k: flat(v) for k, v in model.named().items()}})

out = {"cases": cases, "optimizer_case": "mlp", "optimizers": updates}
path = pathlib.Path(__file__).resolve().parents[2] / "engine/tests/fixtures/torch.json"
path.write_text(json.dumps(out, indent=None))
print(f"wrote {path} ({len(cases)} cases, {len(updates)} optimizers)")
