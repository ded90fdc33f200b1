//! The `train` section: loss, optimizer, batch, epochs, seed, schedule,
//! clipping, regularization and early stopping. Everything has a default, so
//! a file without `train` trains with Adam at 1e-3 for one epoch.

use super::{args::Args, body_of, only_commands, Lowerer};
use crate::diagnostic::{unknown, Diagnostic, Span};
use crate::experiment::{EarlyStop, Loss, OptimizerKind, OptimizerSpec, Schedule, TrainSpec};
use crate::metric::{Metric, Quantity, Stage, MONITORED};
use crate::syntax::Command;
use crate::value::Value;

pub const KEYS: [&str; 10] = [
    "loss",
    "optimizer",
    "batch",
    "epochs",
    "seed",
    "schedule",
    "clip_grad",
    "regularize",
    "early_stop",
    "device",
];

pub fn default_optimizer(kind: OptimizerKind) -> OptimizerSpec {
    OptimizerSpec {
        kind,
        lr: match kind {
            OptimizerKind::Sgd => 0.01,
            OptimizerKind::Adagrad => 0.01,
            OptimizerKind::Adadelta => 1.0,
            OptimizerKind::RmsProp => 0.01,
            _ => 1e-3,
        },
        momentum: 0.0,
        nesterov: false,
        beta1: 0.9,
        beta2: 0.999,
        eps: match kind {
            OptimizerKind::Adagrad => 1e-10,
            OptimizerKind::Adadelta => 1e-6,
            _ => 1e-8,
        },
        weight_decay: if kind == OptimizerKind::AdamW {
            0.01
        } else {
            0.0
        },
        alpha: 0.99,
        rho: 0.9,
    }
}

pub fn lower_train(lw: &mut Lowerer<'_>, cmd: Option<&Command>) -> TrainSpec {
    let mut spec = TrainSpec {
        loss: None,
        optimizer: default_optimizer(OptimizerKind::Adam),
        batch: 32,
        epochs: 1,
        seed: 42,
        schedule: Schedule::Constant,
        warmup: 0.0,
        clip_grad: None,
        l1: 0.0,
        l2: 0.0,
        early_stop: None,
        device: None,
        span: cmd.map_or(Span::default(), |c| c.span),
    };
    let Some(cmd) = cmd else { return spec };
    let body = body_of(cmd, &mut lw.sink, "train { epochs 10 }");
    for c in only_commands(body, &mut lw.sink, "train") {
        let mut a = Args::of(c, &lw.env, &mut lw.sink);
        let key = c.head.name.as_str();
        let (usage, known): (&str, &[&str]) = match key {
            "loss" => {
                if let Some((v, s)) = need(lw, &mut a, "a loss", "loss cross_entropy|mse|bce") {
                    spec.loss = loss(lw, &v, s);
                }
                ("loss cross_entropy|mse|bce", &[])
            }
            "optimizer" => optimizer(lw, &mut a, &mut spec),
            "batch" => {
                if let Some((v, s)) = need(lw, &mut a, "a size", "batch N") {
                    spec.batch = lw
                        .conv()
                        .count(&v, s, "the batch size", 1)
                        .unwrap_or(spec.batch);
                }
                ("batch N", &[])
            }
            "epochs" => {
                if let Some((v, s)) = need(lw, &mut a, "a count", "epochs N") {
                    spec.epochs = lw
                        .conv()
                        .count(&v, s, "the number of epochs", 1)
                        .unwrap_or(spec.epochs);
                }
                ("epochs N", &[])
            }
            "seed" => {
                if let Some((v, s)) = need(lw, &mut a, "a number", "seed N") {
                    spec.seed = lw.conv().count(&v, s, "the seed", 0).unwrap_or(0) as u64;
                }
                ("seed N", &[])
            }
            "clip_grad" => {
                if let Some((v, s)) = need(lw, &mut a, "a norm", "clip_grad MAX_NORM") {
                    spec.clip_grad = lw.conv().positive(&v, s, "the clipping norm");
                }
                ("clip_grad MAX_NORM", &[])
            }
            "regularize" => {
                if let Some((v, s)) = a.kw("l1") {
                    spec.l1 = lw.conv().non_negative(&v, s, "`l1`").unwrap_or(0.0);
                }
                if let Some((v, s)) = a.kw("l2") {
                    spec.l2 = lw.conv().non_negative(&v, s, "`l2`").unwrap_or(0.0);
                }
                ("regularize l1=A l2=B", &["l1", "l2"])
            }
            "schedule" => schedule(lw, &mut a, &mut spec),
            "device" => {
                if let Some((v, s)) = need(lw, &mut a, "a device", DEVICE_USAGE) {
                    spec.device = device(lw, &v, s);
                }
                (DEVICE_USAGE, &[])
            }
            "early_stop" => {
                spec.early_stop = Some(early_stop(lw, &mut a, c));
                (
                    "early_stop monitor=val.loss patience=3 [min_delta=0] [restore_best=true]",
                    &["monitor", "patience", "min_delta", "restore_best"],
                )
            }
            other => {
                lw.sink
                    .push(unknown(c.head.span, "train key", other, &KEYS));
                continue;
            }
        };
        a.finish(&mut lw.sink, usage, known);
    }
    spec
}

fn need(lw: &mut Lowerer<'_>, a: &mut Args, what: &str, usage: &str) -> Option<(Value, Span)> {
    let v = a.pos(0);
    if v.is_none() {
        a.missing(&mut lw.sink, what, usage);
    }
    v
}

const OPT_USAGE: &str = "optimizer sgd|adam|adamw|rmsprop|adagrad|adadelta lr=RATE ...";

fn optimizer(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    spec: &mut TrainSpec,
) -> (&'static str, &'static [&'static str]) {
    let Some((v, s)) = need(lw, a, "a kind", OPT_USAGE) else {
        return (OPT_USAGE, &[]);
    };
    let kind = match lw.conv().choice(&v, s, "optimizer", &OptimizerKind::NAMES) {
        Some("sgd") => OptimizerKind::Sgd,
        Some("adam") => OptimizerKind::Adam,
        Some("adamw") => OptimizerKind::AdamW,
        Some("rmsprop") => OptimizerKind::RmsProp,
        Some("adagrad") => OptimizerKind::Adagrad,
        Some("adadelta") => OptimizerKind::Adadelta,
        // The kind is already reported; its options are not the mistake.
        _ => {
            const ALL: [&str; 9] = [
                "lr",
                "momentum",
                "nesterov",
                "beta1",
                "beta2",
                "eps",
                "weight_decay",
                "alpha",
                "rho",
            ];
            for key in ALL {
                a.kw(key);
            }
            return (OPT_USAGE, &ALL);
        }
    };
    let known: &'static [&'static str] = match kind {
        OptimizerKind::Sgd => &["lr", "momentum", "nesterov", "weight_decay"],
        OptimizerKind::Adam | OptimizerKind::AdamW => {
            &["lr", "beta1", "beta2", "eps", "weight_decay"]
        }
        OptimizerKind::RmsProp => &["lr", "alpha", "eps", "momentum", "weight_decay"],
        OptimizerKind::Adagrad => &["lr", "eps", "weight_decay"],
        OptimizerKind::Adadelta => &["lr", "rho", "eps", "weight_decay"],
    };
    let mut o = default_optimizer(kind);
    for key in known {
        let Some((v, s)) = a.kw(key) else { continue };
        let mut c = lw.conv();
        match *key {
            "lr" => o.lr = c.positive(&v, s, "the learning rate").unwrap_or(o.lr),
            "momentum" => {
                o.momentum = c
                    .fraction(&v, s, "the momentum", false)
                    .unwrap_or(o.momentum)
            }
            "nesterov" => o.nesterov = c.boolean(&v, s, "`nesterov`").unwrap_or(false),
            "beta1" => o.beta1 = c.fraction(&v, s, "beta1", false).unwrap_or(o.beta1),
            "beta2" => o.beta2 = c.fraction(&v, s, "beta2", false).unwrap_or(o.beta2),
            "eps" => o.eps = c.positive(&v, s, "eps").unwrap_or(o.eps),
            "weight_decay" => {
                o.weight_decay = c.non_negative(&v, s, "the weight decay").unwrap_or(0.0)
            }
            "alpha" => o.alpha = c.fraction(&v, s, "alpha", false).unwrap_or(o.alpha),
            "rho" => o.rho = c.fraction(&v, s, "rho", false).unwrap_or(o.rho),
            _ => unreachable!(),
        }
    }
    if o.nesterov && o.momentum == 0.0 {
        lw.sink.push(
            Diagnostic::error(s, "Nesterov momentum needs a momentum")
                .with_hint("add `momentum=0.9`"),
        );
    }
    spec.optimizer = o;
    (OPT_USAGE, known)
}

fn schedule(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    spec: &mut TrainSpec,
) -> (&'static str, &'static [&'static str]) {
    const USAGE: &str =
        "schedule constant|step|cosine|warmup [warmup=EPOCHS] [every=N gamma=G] [min_lr=R]";
    let Some((v, s)) = need(lw, a, "a kind", USAGE) else {
        return (USAGE, &[]);
    };
    let kind = lw
        .conv()
        .choice(&v, s, "schedule", &["constant", "step", "cosine", "warmup"]);
    if let Some((v, s)) = a.kw("warmup") {
        spec.warmup = lw.conv().non_negative(&v, s, "the warm-up").unwrap_or(0.0);
    } else if kind == Some("warmup") {
        spec.warmup = 1.0;
    }
    let known: &'static [&'static str] = match kind {
        Some("step") => {
            let every = a
                .kw("every")
                .and_then(|(v, s)| lw.conv().count(&v, s, "`every`", 1));
            let gamma = a
                .kw("gamma")
                .and_then(|(v, s)| lw.conv().positive(&v, s, "gamma"));
            spec.schedule = Schedule::Step {
                every: every.unwrap_or(1),
                gamma: gamma.unwrap_or(0.1),
            };
            &["warmup", "every", "gamma"]
        }
        Some("cosine") => {
            let min_lr = a
                .kw("min_lr")
                .and_then(|(v, s)| lw.conv().non_negative(&v, s, "`min_lr`"));
            spec.schedule = Schedule::Cosine {
                min_lr: min_lr.unwrap_or(0.0),
            };
            &["warmup", "min_lr"]
        }
        _ => {
            spec.schedule = Schedule::Constant;
            &["warmup"]
        }
    };
    (USAGE, known)
}

/// `early_stop monitor=M patience=N min_delta=D restore_best=B`.
fn early_stop(lw: &mut Lowerer<'_>, a: &mut Args, c: &Command) -> EarlyStop {
    let mut es = EarlyStop {
        monitor: Metric::Of(Stage::Val, Quantity::Loss).name().into(),
        patience: 3,
        min_delta: 0.0,
        restore_best: true,
        span: c.span,
    };
    if let Some((v, s)) = a.kw("monitor") {
        match v {
            Value::Word(w) if MONITORED.contains(&w.as_str()) => es.monitor = w,
            Value::Word(w) => lw
                .sink
                .push(unknown(s, "metric to monitor", &w, &MONITORED)),
            other => {
                lw.conv().choice(&other, s, "metric to monitor", &MONITORED);
            }
        }
    }
    if let Some((v, s)) = a.kw("patience") {
        es.patience = lw
            .conv()
            .count(&v, s, "the patience", 1)
            .unwrap_or(es.patience);
    }
    if let Some((v, s)) = a.kw("min_delta") {
        es.min_delta = lw.conv().non_negative(&v, s, "`min_delta`").unwrap_or(0.0);
    }
    if let Some((v, s)) = a.kw("restore_best") {
        es.restore_best = lw.conv().boolean(&v, s, "`restore_best`").unwrap_or(true);
    }
    es
}

const DEVICE_USAGE: &str = "device cpu|cuda|auto|\"cuda:N\"";

/// Where the file asks to train; `--device` on the command line wins.
fn device(lw: &mut Lowerer<'_>, v: &Value, s: Span) -> Option<String> {
    let name = match v {
        Value::Word(w) | Value::Str(w) => w.as_str(),
        Value::Invalid => return None,
        _ => "",
    };
    let numbered = name
        .strip_prefix("cuda:")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if ["cpu", "cuda", "auto"].contains(&name) || numbered {
        return Some(name.to_string());
    }
    lw.sink.push(
        Diagnostic::error(s, format!("unknown device `{name}`")).with_hint(
            "use cpu, cuda (the first GPU), auto (a GPU if there is one), or \"cuda:N\"",
        ),
    );
    None
}

fn loss(lw: &mut Lowerer<'_>, v: &Value, s: Span) -> Option<Loss> {
    match lw.conv().choice(v, s, "loss", &Loss::NAMES)? {
        "cross_entropy" => Some(Loss::CrossEntropy),
        "mse" => Some(Loss::Mse),
        _ => Some(Loss::Bce),
    }
}
