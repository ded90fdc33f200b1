//! The `compress` section: pruning, fine-tuning, quantization and
//! distillation, in the order a run applies them.

use super::{args::Args, body_of, only_commands, Lowerer};
use crate::diagnostic::unknown;
use crate::experiment::{Cluster, CompressSpec, Distill, PruneScope};
use crate::syntax::Command;

pub fn lower_compress(lw: &mut Lowerer<'_>, cmd: &Command) -> CompressSpec {
    let mut spec = CompressSpec {
        prune: None,
        finetune_epochs: 0,
        cluster: None,
        quantize_int8: false,
        distill: None,
        span: cmd.span,
    };
    let body = body_of(cmd, &mut lw.sink, "compress { prune magnitude 50% }");
    for c in only_commands(body, &mut lw.sink, "compress") {
        let mut a = Args::of(c, &lw.env, &mut lw.sink);
        match c.head.name.as_str() {
            "prune" => {
                prune(lw, a, &mut spec);
            }
            "finetune" => {
                if let Some((v, s)) = a.kw("epochs") {
                    spec.finetune_epochs =
                        lw.conv().count(&v, s, "fine-tune epochs", 0).unwrap_or(0);
                }
                a.finish(&mut lw.sink, "finetune epochs=N", &["epochs"]);
            }
            "cluster" => cluster(lw, a, &mut spec),
            "quantize" => {
                match a.pos(0) {
                    Some((v, s)) => {
                        spec.quantize_int8 =
                            lw.conv().choice(&v, s, "quantization", &["int8"]).is_some();
                    }
                    None => a.missing(&mut lw.sink, "a format", "quantize int8"),
                }
                a.finish(&mut lw.sink, "quantize int8", &[]);
            }
            "distill" => {
                distill(lw, a, c, &mut spec);
            }
            other => lw.sink.push(unknown(
                c.head.span,
                "compress step",
                other,
                &["prune", "finetune", "cluster", "quantize", "distill"],
            )),
        }
    }
    spec
}

/// `prune magnitude P% [scope=layer|global]`.
fn prune(lw: &mut Lowerer<'_>, mut a: Args, spec: &mut CompressSpec) {
    const USAGE: &str = "prune magnitude P% [scope=layer|global]";
    match a.pos(0) {
        Some((v, s)) => {
            lw.conv().choice(&v, s, "pruning method", &["magnitude"]);
        }
        None => a.missing(&mut lw.sink, "a method", USAGE),
    }
    let amount = match a.pos(1) {
        Some((v, s)) => lw.conv().fraction(&v, s, "the pruned fraction", false),
        None => {
            a.missing(&mut lw.sink, "the fraction to prune", USAGE);
            None
        }
    };
    let scope = match a.kw("scope") {
        Some((v, s)) => {
            match lw
                .conv()
                .choice(&v, s, "pruning scope", &["layer", "global"])
            {
                Some("global") => PruneScope::Global,
                _ => PruneScope::Layer,
            }
        }
        None => PruneScope::Layer,
    };
    if let Some(f) = amount {
        spec.prune = Some((f, scope));
    }
    a.finish(&mut lw.sink, USAGE, &["scope"]);
}

/// `cluster K [finetune=N]`, K from 2 to 256.
fn cluster(lw: &mut Lowerer<'_>, mut a: Args, spec: &mut CompressSpec) {
    const USAGE: &str = "cluster K [finetune=N]";
    let k = match a.pos(0) {
        Some((v, s)) => lw
            .conv()
            .count(&v, s, "the number of shared values", 0)
            .and_then(|k| {
                if (2..=Cluster::MAX).contains(&k) {
                    Some(k)
                } else {
                    lw.sink.error(
                        s,
                        format!(
                            "cluster takes 2 to {} shared values per layer, got {k}",
                            Cluster::MAX
                        ),
                    );
                    None
                }
            }),
        None => {
            a.missing(&mut lw.sink, "the number of shared values", USAGE);
            None
        }
    };
    let finetune_epochs = a
        .kw("finetune")
        .and_then(|(v, s)| lw.conv().count(&v, s, "fine-tune epochs", 0))
        .unwrap_or(0);
    if let Some(k) = k {
        spec.cluster = Some(Cluster { k, finetune_epochs });
    }
    a.finish(&mut lw.sink, USAGE, &["finetune"]);
}

/// `distill teacher="t.net" [checkpoint="..."] temperature=T alpha=A`.
fn distill(lw: &mut Lowerer<'_>, mut a: Args, c: &Command, spec: &mut CompressSpec) {
    const USAGE: &str =
        "distill teacher=\"teacher.net\" [checkpoint=\"...\"] temperature=T alpha=A";
    let teacher = match a.kw("teacher") {
        Some((v, s)) => lw.conv().string(&v, s, "the teacher"),
        None => {
            a.missing(&mut lw.sink, "`teacher=\"file.net\"`", USAGE);
            None
        }
    };
    let checkpoint = a
        .kw("checkpoint")
        .and_then(|(v, s)| lw.conv().string(&v, s, "the checkpoint"));
    let temperature = a
        .kw("temperature")
        .and_then(|(v, s)| lw.conv().positive(&v, s, "the temperature"))
        .unwrap_or(4.0);
    let alpha = a
        .kw("alpha")
        .and_then(|(v, s)| lw.conv().fraction(&v, s, "alpha", true))
        .unwrap_or(0.5);
    if let Some(teacher) = teacher {
        spec.distill = Some(Distill {
            teacher,
            checkpoint,
            temperature,
            alpha,
            span: c.span,
        });
    }
    a.finish(
        &mut lw.sink,
        USAGE,
        &["teacher", "checkpoint", "temperature", "alpha"],
    );
}
