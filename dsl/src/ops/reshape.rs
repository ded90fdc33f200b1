//! Layers without parameters that reshape or gate their input: `flatten`, `dropout P`, `last`, and activations as layers.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::Activation;
use crate::experiment::LayerKind;
use crate::graph::{Op, Shape};
use crate::lower::layer_args::{Args, Lowerer};
use crate::ops::{BodyLowerer, Lowered};
use crate::syntax::Command;

impl Checker<'_> {
    pub(crate) fn flatten(&mut self, at: &At<'_>) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "flatten") {
            return None;
        }
        Some(Shaped {
            op: Op::Flatten,
            output: Shape::Vector {
                features: input.elements(),
            },
            flops: 0,
            params: Vec::new(),
        })
    }

    pub(crate) fn dropout(&mut self, at: &At<'_>, p: &f32) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "dropout") {
            return None;
        }
        Some(Shaped {
            op: Op::Dropout { p: *p },
            output: input,
            flops: input.elements() as u64,
            params: Vec::new(),
        })
    }

    pub(crate) fn last(&mut self, at: &At<'_>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let Shape::Sequence { features, .. } = input else {
            self.sink.push(
                Diagnostic::error(span, format!("last needs a sequence, got {input}"))
                    .with_hint("`last` takes the final step of a recurrent layer's output"),
            );
            return None;
        };
        Some(Shaped {
            op: Op::Last,
            output: Shape::Vector { features },
            flops: 0,
            params: Vec::new(),
        })
    }

    pub(crate) fn activation(&mut self, at: &At<'_>, a: &Activation) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, a.name()) {
            return None;
        }
        Some(Shaped {
            op: Op::Activation { activation: *a },
            output: input,
            flops: 4 * input.elements() as u64,
            params: Vec::new(),
        })
    }
}

pub(crate) fn lower_flatten(
    lw: &mut Lowerer<'_>,
    a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    a.finish(&mut lw.sink, "flatten", &[]);
    Some(Lowered::plain(LayerKind::Flatten))
}

pub(crate) fn lower_last(
    lw: &mut Lowerer<'_>,
    a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    a.finish(&mut lw.sink, "last", &[]);
    Some(Lowered::plain(LayerKind::Last))
}

pub(crate) fn lower_dropout(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "dropout RATE";
    let p = match a.pos(0) {
        Some((v, s)) => lw.conv().fraction(&v, s, "the dropout rate", false),
        None => {
            a.missing(&mut lw.sink, "a rate", USAGE);
            None
        }
    };
    a.finish(&mut lw.sink, USAGE, &[]);
    Some(Lowered::plain(LayerKind::Dropout { p: p? as f32 }))
}
