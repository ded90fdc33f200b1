//! The `model` section: layers, activations, `residual`, `repeat`, and calls
//! of blocks (expanded here, with their parameters bound).

use std::collections::HashMap;

use super::layer_args::Args;
use super::{body_of, Lowerer};
use crate::diagnostic::{closest, Diagnostic, Span};
use crate::experiment::{Activation, LayerDecl, LayerKind, Scope};
use crate::ops::{self, Lowered};
use crate::syntax::{Command, Stmt};
use crate::value::{eval, Value};

/// Every word that starts a layer: the kinds, `repeat`, and activations.
pub use crate::ops::LAYERS;

/// How deep block calls may nest; deeper means a block calls itself.
const MAX_DEPTH: usize = 32;

/// The most layers a model may expand to; beyond it is a typo, not a model.
const MAX_LAYERS: usize = 100_000;

fn count_layers(decls: &[LayerDecl]) -> usize {
    decls
        .iter()
        .map(|d| match &d.kind {
            LayerKind::Scope(Scope { body, .. }) => count_layers(body),
            LayerKind::Residual(r) => 1 + count_layers(&r.body),
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
        if c.body.is_some() && !ops::takes_body(head) && LAYERS.contains(&head) {
            lw.sink.push(
                Diagnostic::error(c.head.span, format!("`{head}` takes no `{{ }}` body"))
                    .with_hint("only `residual`, `repeat` and block definitions have bodies"),
            );
        }
        let mut a = Args::of(c, &lw.env, &mut lw.sink);
        let label = c.label.as_ref().map(|l| l.name.clone());
        let lowered = match head {
            w if ops::kind_of(w).is_some() => {
                let lower = ops::kind_of(w).expect("just matched").lower;
                lower(lw, a, c, &|lw, body| self.lower(lw, body))?
            }
            ops::REPEAT => {
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
                            LayerKind::Scope(Scope {
                                name: i.to_string(),
                                body: once.clone(),
                            }),
                            None,
                            c.span,
                        )
                    })
                    .collect();
                Lowered::plain(LayerKind::Scope(Scope {
                    name: String::new(),
                    body: iterations,
                }))
            }
            w if Activation::NAMES.contains(&w) => {
                crate::ops::reshape::lower_activation(lw, a, c, &|lw, body| self.lower(lw, body))?
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
        Some(decl(label, lowered.kind, lowered.activation, c.span))
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
            LayerKind::Scope(Scope {
                name: name.to_string(),
                body: inner,
            }),
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
