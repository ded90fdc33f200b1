//! `residual { ... }`: a body whose output is added to its input.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::LayerDecl;
use crate::graph::Op;

impl Checker<'_> {
    pub(crate) fn residual(&mut self, at: &At<'_>, body: &[LayerDecl]) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
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
            op: Op::Residual { body: nodes },
            output: input,
            flops,
            params: Vec::new(),
        })
    }
}
