//! Token embeddings: `embed D` turns token ids into vectors.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::SizeArg;
use crate::graph::{param, Init, Op, Shape, Target};

impl Checker<'_> {
    pub(crate) fn embed(&mut self, at: &At<'_>, dim: &SizeArg) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let mut params = Vec::new();
        let dim = self.size(dim)?;
        let Shape::Tokens { steps } = input else {
            self.sink.push(
                Diagnostic::error(span, format!("embed needs token ids, got {input}"))
                    .with_hint("embed turns text tokens into vectors; use it first on `data text`"),
            );
            return None;
        };
        let Target::NextToken { vocab } = self.facts.target else {
            self.sink
                .error(span, "embed needs a vocabulary from text data");
            return None;
        };
        params.push(at.param(param::WEIGHT, vec![vocab, dim], Init::Normal { std: 1.0 }));
        Some(Shaped {
            op: Op::Embed { vocab, dim },
            output: Shape::Sequence {
                steps,
                features: dim,
            },
            flops: 0,
            params,
        })
    }
}
