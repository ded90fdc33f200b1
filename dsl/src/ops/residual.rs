//! `residual { ... }`: a body whose output is added to its input.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::graph::Op;
use crate::layer::{Layer, Parsed, Stage};
use crate::lower::layer_args::{body_of, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;

/// `output = input + body(input)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "S::Body: Serialize"))]
pub struct Residual<S: Stage> {
    pub body: S::Body,
}

kind!(
    Residual<S>,
    "residual",
    lower_residual,
    residual,
    body = true
);

impl Checker<'_> {
    fn residual(&mut self, at: &At<'_>, r: &Residual<Parsed>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let body = &r.body;
        let mut shape = Some(input);
        let nodes = self.layers(body, &mut shape, at.name);
        let out = shape?;
        if out != input {
            self.sink.push(
                Diagnostic::error(
                    span,
                    format!("the residual body turns {input} into {out}; a residual needs both the same"),
                )
                .with_hint(format!("make the body's last layer output {input}")),
            );
            return None;
        }
        let flops = nodes.iter().map(|n| n.flops).sum::<u64>() + input.elements() as u64;
        Some(Shaped {
            op: Op::Residual(Residual { body: nodes }),
            output: input,
            flops,
            params: Vec::new(),
        })
    }
}

fn lower_residual(
    lw: &mut Lowerer<'_>,
    a: Args,
    c: &Command,
    lower_body: BodyLowerer<'_>,
) -> Option<Lowered> {
    a.finish(&mut lw.sink, "residual { LAYERS }", &[]);
    let body = body_of(c, &mut lw.sink, "residual { dense 64 relu }");
    let inner = lower_body(lw, body);
    if body.is_empty() && c.body.is_some() {
        lw.sink.push(
            Diagnostic::error(c.span, "an empty `residual`")
                .with_hint("a residual adds its body's output to its input: give it layers"),
        );
        return None;
    }
    Some(Lowered::plain(Layer::Residual(Residual { body: inner })))
}
