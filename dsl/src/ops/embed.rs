//! Token embeddings: `embed D` turns token ids into vectors.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::LayerKind;
use crate::experiment::SizeArg;
use crate::graph::{param, Init, Op, Shape, Target};
use crate::lower::layer_args::{size_arg, Args, Lowerer};
use crate::ops::{BodyLowerer, Lowered};
use crate::syntax::Command;

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

pub(crate) fn lower_embed(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "embed DIM";
    let dim = size_arg(lw, &mut a, 0, "the embedding size", USAGE);
    a.finish(&mut lw.sink, USAGE, &[]);
    Some(Lowered::plain(LayerKind::Embed {
        vocab: (),
        dim: dim?,
    }))
}
