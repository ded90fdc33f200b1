//! Token embeddings: `embed D` turns token ids into vectors.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::graph::{param, Init, Op, Shape, Target};
use crate::layer::{Layer, Parsed, Stage};
use crate::lower::layer_args::{size_arg, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "S::Size: Serialize, S::Vocab: Serialize"))]
pub struct Embed<S: Stage> {
    /// The data's token count, known once the data is.
    pub vocab: S::Vocab,
    pub dim: S::Size,
}

kind!(Embed<S>, "embed", lower_embed, embed);

impl Checker<'_> {
    fn embed(&mut self, at: &At<'_>, e: &Embed<Parsed>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let mut params = Vec::new();
        let dim = self.size(&e.dim)?;
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
            op: Op::Embed(Embed { vocab, dim }),
            output: Shape::Sequence {
                steps,
                features: dim,
            },
            flops: 0,
            params,
        })
    }
}

fn lower_embed(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "embed DIM";
    let dim = size_arg(lw, &mut a, 0, "the embedding size", USAGE);
    a.finish(&mut lw.sink, USAGE, &[]);
    Some(Lowered::plain(Layer::Embed(Embed {
        vocab: (),
        dim: dim?,
    })))
}
