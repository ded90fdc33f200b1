//! The `model` section: layers, activations, `residual`, `repeat`, and calls
//! of blocks (expanded here, with their parameters bound).

use std::collections::HashMap;

use super::{args::Args, body_of, Lowerer};
use crate::diagnostic::{closest, Diagnostic, Span};
use crate::experiment::{Activation, Cell, LayerDecl, LayerKind, Padding, PoolMode};
use crate::syntax::{Command, Stmt};
use crate::value::{eval, Value};

pub const LAYERS: [&str; 20] = [
    "dense",
    "conv",
    "pool",
    "flatten",
    "dropout",
    "batchnorm",
    "layernorm",
    "embed",
    "rnn",
    "lstm",
    "gru",
    "last",
    "residual",
    "repeat",
    "relu",
    "sigmoid",
    "tanh",
    "leaky_relu",
    "gelu",
    "softmax",
];

/// How deep block calls may nest; deeper means a block calls itself.
const MAX_DEPTH: usize = 32;

/// The most layers a model may expand to; beyond it is a typo, not a model.
const MAX_LAYERS: usize = 100_000;

fn count_layers(decls: &[LayerDecl]) -> usize {
    decls
        .iter()
        .map(|d| match &d.kind {
            LayerKind::Scope { body, .. } => count_layers(body),
            LayerKind::Residual(body) => 1 + count_layers(body),
            _ => 1,
        })
        .fold(0, usize::saturating_add)
}

pub fn lower_model(lw: &mut Lowerer<'_>, cmd: &Command) -> Vec<LayerDecl> {
    if cmd.args().next().is_some() {
        lw.sink.push(
            Diagnostic::error(cmd.head.span, "`model` takes no arguments")
                .with_hint("write `model { ... }`"),
        );
    }
    let body = body_of(cmd, &mut lw.sink, "model { dense 10 }");
    let layers = Layers { depth: 0 }.lower(lw, body);
    if body.is_empty() && cmd.body.is_some() {
        lw.sink.push(
            Diagnostic::error(cmd.span, "the model has no layers")
                .with_hint("add at least one layer, e.g. `dense classes`"),
        );
    }
    layers
}

struct Layers {
    depth: usize,
}

impl Layers {
    fn lower(&self, lw: &mut Lowerer<'_>, body: &[Stmt]) -> Vec<LayerDecl> {
        let mut out = Vec::new();
        for stmt in body {
            match stmt {
                Stmt::Command(c) => {
                    if let Some(l) = self.layer(lw, c) {
                        out.push(l);
                    }
                }
                Stmt::Let { span, .. } => lw.sink.push(
                    Diagnostic::error(*span, "`let` inside a model")
                        .with_hint("define names at the top of the file, or as block parameters"),
                ),
                Stmt::Block { span, .. } => lw.sink.push(
                    Diagnostic::error(*span, "a block defined inside a model")
                        .with_hint("define blocks at the top of the file"),
                ),
                Stmt::Compare { span, .. } => lw.sink.push(
                    Diagnostic::error(*span, "a comparison inside a model")
                        .with_hint("metric goals go in `expect { ... }`"),
                ),
            }
        }
        out
    }

    fn layer(&self, lw: &mut Lowerer<'_>, c: &Command) -> Option<LayerDecl> {
        let head = c.head.name.as_str();
        if c.call_args.is_some() {
            return self.call(lw, c);
        }
        let takes_body = matches!(head, "residual" | "repeat");
        if c.body.is_some() && !takes_body && LAYERS.contains(&head) {
            lw.sink.push(
                Diagnostic::error(c.head.span, format!("`{head}` takes no `{{ }}` body"))
                    .with_hint("only `residual`, `repeat` and block definitions have bodies"),
            );
        }
        let mut a = Args::of(c, &lw.env, &mut lw.sink);
        let label = c.label.as_ref().map(|l| l.name.clone());
        let kind = match head {
            "dense" => {
                const USAGE: &str = "dense UNITS [ACTIVATION] [bias=false]";
                let activation = trailing_activation(lw, &mut a);
                let units = size_arg(lw, &mut a, 0, "the number of units", USAGE)?;
                let bias = match a.kw("bias") {
                    Some((v, s)) => lw.conv().boolean(&v, s, "`bias`").unwrap_or(true),
                    None => true,
                };
                a.finish(&mut lw.sink, USAGE, &["bias", "slope"]);
                return Some(decl(
                    label,
                    LayerKind::Dense { units, bias },
                    activation,
                    c.span,
                ));
            }
            "conv" => {
                const USAGE: &str = "conv FILTERS kernel=K [stride=1] [pad=0|same] [ACTIVATION]";
                let activation = trailing_activation(lw, &mut a);
                let filters = size_arg(lw, &mut a, 0, "the number of filters", USAGE);
                let kernel = match a.kw("kernel") {
                    Some((v, s)) => lw.conv().count(&v, s, "the kernel size", 1),
                    None => {
                        lw.sink.push(
                            Diagnostic::error(c.head.span, "`conv` needs a kernel size")
                                .with_hint("e.g. `conv 16 kernel=3`"),
                        );
                        None
                    }
                };
                let stride = opt_count(lw, &mut a, "stride", "the stride", 1).unwrap_or(1);
                let pad = match a.kw("pad") {
                    Some((Value::Word(w), _)) if w == "same" => Padding::Same,
                    Some((v, s)) => {
                        Padding::Explicit(lw.conv().count(&v, s, "the padding", 0).unwrap_or(0))
                    }
                    None => Padding::Explicit(0),
                };
                a.finish(&mut lw.sink, USAGE, &["kernel", "stride", "pad", "slope"]);
                return Some(decl(
                    label,
                    LayerKind::Conv {
                        filters: filters?,
                        kernel: kernel?,
                        stride,
                        pad,
                    },
                    activation,
                    c.span,
                ));
            }
            "pool" => {
                const USAGE: &str = "pool max|avg SIZE [stride=SIZE]";
                let mode = match a.pos(0) {
                    Some((v, s)) => match lw.conv().choice(&v, s, "pooling", &["max", "avg"])? {
                        "max" => PoolMode::Max,
                        _ => PoolMode::Avg,
                    },
                    None => {
                        a.missing(&mut lw.sink, "`max` or `avg` and a size", USAGE);
                        return None;
                    }
                };
                let kernel = match a.pos(1) {
                    Some((v, s)) => lw.conv().count(&v, s, "the pool size", 1)?,
                    None => {
                        a.missing(&mut lw.sink, "a size", USAGE);
                        return None;
                    }
                };
                let stride = opt_count(lw, &mut a, "stride", "the stride", 1).unwrap_or(kernel);
                a.finish(&mut lw.sink, USAGE, &["stride"]);
                LayerKind::Pool {
                    mode,
                    kernel,
                    stride,
                }
            }
            "flatten" | "last" => {
                a.finish(&mut lw.sink, head, &[]);
                if head == "flatten" {
                    LayerKind::Flatten
                } else {
                    LayerKind::Last
                }
            }
            "dropout" => {
                const USAGE: &str = "dropout RATE";
                let p = match a.pos(0) {
                    Some((v, s)) => lw.conv().fraction(&v, s, "the dropout rate", false),
                    None => {
                        a.missing(&mut lw.sink, "a rate", USAGE);
                        None
                    }
                };
                a.finish(&mut lw.sink, USAGE, &[]);
                LayerKind::Dropout { p: p? as f32 }
            }
            "batchnorm" => {
                let momentum = opt_fraction(lw, &mut a, "momentum").unwrap_or(0.1);
                let eps = opt_positive(lw, &mut a, "eps").unwrap_or(1e-5);
                a.finish(
                    &mut lw.sink,
                    "batchnorm [momentum=0.1] [eps=1e-5]",
                    &["momentum", "eps"],
                );
                LayerKind::BatchNorm {
                    momentum: momentum as f32,
                    eps: eps as f32,
                }
            }
            "layernorm" => {
                let eps = opt_positive(lw, &mut a, "eps").unwrap_or(1e-5);
                a.finish(&mut lw.sink, "layernorm [eps=1e-5]", &["eps"]);
                LayerKind::LayerNorm { eps: eps as f32 }
            }
            "embed" => {
                const USAGE: &str = "embed DIM";
                let dim = size_arg(lw, &mut a, 0, "the embedding size", USAGE);
                a.finish(&mut lw.sink, USAGE, &[]);
                LayerKind::Embed { dim: dim? }
            }
            "rnn" | "lstm" | "gru" => {
                let usage = format!("{head} HIDDEN [last]");
                let cell = match head {
                    "rnn" => Cell::Rnn,
                    "lstm" => Cell::Lstm,
                    _ => Cell::Gru,
                };
                let last = a.take_trailing_word(&["last"]).is_some();
                let hidden = size_arg(lw, &mut a, 0, "the hidden size", &usage);
                a.finish(&mut lw.sink, &usage, &[]);
                LayerKind::Recurrent {
                    cell,
                    hidden: hidden?,
                    last,
                }
            }
            "residual" => {
                a.finish(&mut lw.sink, "residual { LAYERS }", &[]);
                let body = body_of(c, &mut lw.sink, "residual { dense 64 relu }");
                let inner = self.lower(lw, body);
                if body.is_empty() && c.body.is_some() {
                    lw.sink
                        .push(Diagnostic::error(c.span, "an empty `residual`").with_hint(
                            "a residual adds its body's output to its input: give it layers",
                        ));
                    return None;
                }
                LayerKind::Residual(inner)
            }
            "repeat" => {
                const USAGE: &str = "repeat N { LAYERS }";
                let n = match a.pos(0) {
                    Some((v, s)) => lw.conv().count(&v, s, "the repeat count", 1),
                    None => {
                        a.missing(&mut lw.sink, "a count", USAGE);
                        None
                    }
                };
                a.finish(&mut lw.sink, USAGE, &[]);
                let body = body_of(c, &mut lw.sink, "repeat 3 { dense 64 relu }");
                let n = n?;
                // Lower once to report errors once, then copy per iteration.
                let once = self.lower(lw, body);
                let total = n.saturating_mul(count_layers(&once));
                if total > MAX_LAYERS {
                    lw.sink.push(
                        Diagnostic::error(c.span, format!("this `repeat` expands to {total} layers, more than the {MAX_LAYERS} a model may have"))
                            .with_hint("repeat fewer times"),
                    );
                    return None;
                }
                let iterations = (0..n)
                    .map(|i| {
                        decl(
                            Some(i.to_string()),
                            LayerKind::Scope {
                                name: i.to_string(),
                                body: once.clone(),
                            },
                            None,
                            c.span,
                        )
                    })
                    .collect();
                LayerKind::Scope {
                    name: String::new(),
                    body: iterations,
                }
            }
            w if Activation::NAMES.contains(&w) => {
                let act = activation(lw, &mut a, w, c.head.span)?;
                a.finish(&mut lw.sink, w, &["slope"]);
                LayerKind::Activation(act)
            }
            w if lw.blocks.contains_key(w) => {
                lw.sink.push(
                    Diagnostic::error(
                        c.head.span,
                        format!("`{w}` is a block: call it with parentheses"),
                    )
                    .with_hint(format!("write `{w}(...)`")),
                );
                return None;
            }
            w => {
                let mut names: Vec<&str> = LAYERS.to_vec();
                names.extend(lw.blocks.keys().map(String::as_str));
                let d = Diagnostic::error(c.head.span, format!("unknown layer `{w}`"));
                let d = match closest(w, names.iter().copied()) {
                    Some(n) => d.with_hint(format!("did you mean `{n}`?")),
                    None => d.with_hint(format!("layers: {}", LAYERS.join(", "))),
                };
                lw.sink.push(d);
                return None;
            }
        };
        Some(decl(label, kind, None, c.span))
    }

    fn call(&self, lw: &mut Lowerer<'_>, c: &Command) -> Option<LayerDecl> {
        let name = c.head.name.as_str();
        let Some(&(params, body, _)) = lw.blocks.get(name) else {
            let names: Vec<&str> = lw.blocks.keys().map(String::as_str).collect();
            let d = Diagnostic::error(c.head.span, format!("unknown block `{name}`"));
            let d = match closest(name, names.iter().copied()) {
                Some(n) => d.with_hint(format!("did you mean `{n}`?")),
                None if LAYERS.contains(&name) => {
                    d.with_hint(format!("`{name}` is a layer: write it without parentheses"))
                }
                None => d.with_hint(
                    "define it with `block NAME(PARAMS) { ... }` at the top of the file",
                ),
            };
            lw.sink.push(d);
            return None;
        };
        let args = c.call_args.as_deref().unwrap_or_default();
        if args.len() != params.len() {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            lw.sink.push(
                Diagnostic::error(
                    c.span,
                    format!(
                        "block `{name}` takes {} argument{}, got {}",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .with_hint(format!("call it as `{name}({})`", names.join(", "))),
            );
            return None;
        }
        if self.depth >= MAX_DEPTH {
            lw.sink.push(
                Diagnostic::error(c.span, format!("block `{name}` calls itself without end"))
                    .with_hint("a block may not call itself"),
            );
            return None;
        }
        if c.groups.iter().any(|g| !g.is_empty()) || c.body.is_some() {
            lw.sink.error(
                c.span,
                format!("a call of `{name}` takes only its arguments in parentheses"),
            );
        }
        let values: Vec<Value> = args
            .iter()
            .map(|e| eval(e, &lw.env, &mut lw.sink))
            .collect();
        let saved: HashMap<String, Value> = lw.env.clone();
        for (p, v) in params.iter().zip(values) {
            lw.env.insert(p.name.clone(), v);
        }
        let inner = Layers {
            depth: self.depth + 1,
        }
        .lower(lw, body);
        lw.env = saved;
        let label = c.label.as_ref().map(|l| l.name.clone());
        Some(decl(
            label,
            LayerKind::Scope {
                name: name.to_string(),
                body: inner,
            },
            None,
            c.span,
        ))
    }
}

fn decl(
    label: Option<String>,
    kind: LayerKind,
    activation: Option<Activation>,
    span: Span,
) -> LayerDecl {
    LayerDecl {
        label,
        kind,
        activation,
        span,
    }
}

fn size_arg(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    i: usize,
    what: &str,
    usage: &str,
) -> Option<crate::experiment::SizeArg> {
    match a.pos(i) {
        Some((v, s)) => lw.conv().size(&v, s, what),
        None => {
            a.missing(&mut lw.sink, what, usage);
            None
        }
    }
}

fn opt_count(
    lw: &mut Lowerer<'_>,
    a: &mut Args,
    key: &str,
    what: &str,
    min: usize,
) -> Option<usize> {
    let (v, s) = a.kw(key)?;
    lw.conv().count(&v, s, what, min)
}

fn opt_fraction(lw: &mut Lowerer<'_>, a: &mut Args, key: &str) -> Option<f64> {
    let (v, s) = a.kw(key)?;
    lw.conv().fraction(&v, s, &format!("`{key}`"), true)
}

fn opt_positive(lw: &mut Lowerer<'_>, a: &mut Args, key: &str) -> Option<f64> {
    let (v, s) = a.kw(key)?;
    lw.conv().positive(&v, s, &format!("`{key}`"))
}

/// A trailing activation word after a layer's sizes: `dense 128 relu`.
/// A trailing word that is not an activation is reported with the closest.
fn trailing_activation(lw: &mut Lowerer<'_>, a: &mut Args) -> Option<Activation> {
    if a.pos_len() < 2 {
        return None;
    }
    let last = a.pos_len() - 1;
    match a.pos(last) {
        Some((Value::Word(w), s)) => {
            if Activation::NAMES.contains(&w.as_str()) {
                activation(lw, a, &w, s)
            } else {
                lw.sink.push(crate::diagnostic::unknown(
                    s,
                    "activation",
                    &w,
                    &Activation::NAMES,
                ));
                None
            }
        }
        Some((v, s)) => {
            lw.sink.push(
                Diagnostic::error(s, format!("unexpected argument to `{}`", a.head)).with_hint(
                    format!(
                        "`{}` takes one size; {} is extra",
                        a.head,
                        match v {
                            Value::Num(n, _) => crate::value::fmt_num(n),
                            _ => "this".into(),
                        }
                    ),
                ),
            );
            None
        }
        None => None,
    }
}

fn activation(lw: &mut Lowerer<'_>, a: &mut Args, word: &str, _span: Span) -> Option<Activation> {
    Some(match word {
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "gelu" => Activation::Gelu,
        "softmax" => Activation::Softmax,
        _ => {
            let slope = match a.kw("slope") {
                Some((v, s)) => lw.conv().non_negative(&v, s, "the slope")?,
                None => 0.01,
            };
            Activation::LeakyRelu {
                slope: slope as f32,
            }
        }
    })
}
