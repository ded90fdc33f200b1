//! Layers without parameters that reshape or gate their input: `flatten`, `dropout P`, `last`, and activations as layers.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::Activation;
use crate::graph::{Op, Shape};
use crate::layer::{Keyword, Layer};
use crate::lower::layer_args::{activation, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Kind, Lower, Lowered};
use crate::syntax::Command;

/// `[B, ...]` to `[B, N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Flatten;

/// Inverted dropout at rate `p` while training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dropout {
    pub p: f32,
}

/// The final step of each sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Last;

/// An activation as a layer of its own (`relu` on its own line).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Activate {
    pub activation: Activation,
}

kind!(Flatten, "flatten", lower_flatten, flatten);
kind!(Dropout, "dropout", lower_dropout, dropout);
kind!(Last, "last", lower_last, last);

impl Keyword for Activate {
    fn keyword(&self) -> &'static str {
        self.activation.name()
    }
}

impl Kind for Activate {
    /// None here: activations are words of their own
    /// (`Activation::NAMES`), listed after `repeat`; the model's lowering
    /// sends them to [`lower_activation`].
    const WORDS: &'static [&'static str] = &[];
    const LOWER: Lower = lower_activation;

    fn rule(&self, c: &mut Checker<'_>, at: &At<'_>) -> Option<Shaped> {
        c.activation(at, &self.activation)
    }
}

impl Checker<'_> {
    fn flatten(&mut self, at: &At<'_>, _: &Flatten) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "flatten") {
            return None;
        }
        Some(Shaped {
            op: Op::Flatten(Flatten),
            output: Shape::Vector {
                features: input.elements(),
            },
            flops: 0,
            params: Vec::new(),
        })
    }

    fn dropout(&mut self, at: &At<'_>, d: &Dropout) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, "dropout") {
            return None;
        }
        Some(Shaped {
            op: Op::Dropout(*d),
            output: input,
            flops: input.elements() as u64,
            params: Vec::new(),
        })
    }

    fn last(&mut self, at: &At<'_>, _: &Last) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let Shape::Sequence { features, .. } = input else {
            self.sink.push(
                Diagnostic::error(span, format!("last needs a sequence, got {input}"))
                    .with_hint("`last` takes the final step of a recurrent layer's output"),
            );
            return None;
        };
        Some(Shaped {
            op: Op::Last(Last),
            output: Shape::Vector { features },
            flops: 0,
            params: Vec::new(),
        })
    }

    fn activation(&mut self, at: &At<'_>, a: &Activation) -> Option<Shaped> {
        let input = at.input;
        if !self.float_only(at, a.name()) {
            return None;
        }
        Some(Shaped {
            op: Op::Activation(Activate { activation: *a }),
            output: input,
            flops: 4 * input.elements() as u64,
            params: Vec::new(),
        })
    }
}

fn lower_flatten(
    lw: &mut Lowerer<'_>,
    a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    a.finish(&mut lw.sink, "flatten", &[]);
    Some(Lowered::plain(Layer::Flatten(Flatten)))
}

fn lower_last(
    lw: &mut Lowerer<'_>,
    a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    a.finish(&mut lw.sink, "last", &[]);
    Some(Lowered::plain(Layer::Last(Last)))
}

fn lower_dropout(
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
    Some(Lowered::plain(Layer::Dropout(Dropout { p: p? as f32 })))
}

/// An activation's own line: `relu`, `leaky_relu slope=0.2`.
pub(crate) fn lower_activation(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    let word = c.head.name.as_str();
    let act = activation(lw, &mut a, word, c.head.span)?;
    a.finish(&mut lw.sink, word, &["slope"]);
    Some(Lowered::plain(Layer::Activation(Activate {
        activation: act,
    })))
}
