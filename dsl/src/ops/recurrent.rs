//! Recurrent layers over sequences: `rnn`, `lstm`, `gru` (every step, or the last).

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::Cell;
use crate::graph::{param, Init, Op, Shape};
use crate::layer::{Keyword, Layer, Parsed, Stage};
use crate::lower::layer_args::{size_arg, Args, Lowerer};
use crate::ops::{BodyLowerer, Kind, Lower, Lowered};
use crate::syntax::Command;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "S::Size: Serialize"))]
pub struct Recurrent<S: Stage> {
    pub cell: Cell,
    pub hidden: S::Size,
    /// Only the final step's output (`lstm 64 last`).
    pub last: bool,
}

impl<S: Stage> Keyword for Recurrent<S> {
    fn keyword(&self) -> &'static str {
        self.cell.name()
    }
}

impl Kind for Recurrent<Parsed> {
    const WORDS: &'static [&'static str] = &["rnn", "lstm", "gru"];
    const LOWER: Lower = lower_recurrent;

    fn rule(&self, c: &mut Checker<'_>, at: &At<'_>) -> Option<Shaped> {
        c.recurrent(at, self)
    }
}

impl Checker<'_> {
    fn recurrent(&mut self, at: &At<'_>, r: &Recurrent<Parsed>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let (cell, last) = (&r.cell, &r.last);
        let mut params = Vec::new();
        let hidden = self.size(&r.hidden)?;
        let (steps, features) = match input {
            Shape::Sequence { steps, features } => (steps, features),
            Shape::Tokens { .. } => {
                self.float_only(at, cell.name());
                return None;
            }
            other => {
                self.sink.push(
                    Diagnostic::error(
                        span,
                        format!(
                            "{} needs a sequence [steps, features], got {other}",
                            cell.name()
                        ),
                    )
                    .with_hint(
                        "recurrent layers read sequences: text through `embed`, or sequence data",
                    ),
                );
                return None;
            }
        };
        let g = cell.gates() * hidden;
        let bound = 1.0 / (hidden as f32).sqrt();
        let init = Init::Uniform { bound };
        params.push(at.param(param::WEIGHT_IH, vec![g, features], init));
        params.push(at.param(param::WEIGHT_HH, vec![g, hidden], init));
        params.push(at.param(param::BIAS_IH, vec![g], init));
        params.push(at.param(param::BIAS_HH, vec![g], init));
        let out = if *last {
            Shape::Vector { features: hidden }
        } else {
            Shape::Sequence {
                steps,
                features: hidden,
            }
        };
        let flops = steps * (2 * g * (features + hidden) + 4 * g);
        Some(Shaped {
            op: Op::Recurrent(Recurrent {
                cell: *cell,
                hidden,
                last: *last,
            }),
            output: out,
            flops: flops as u64,
            params,
        })
    }
}

fn lower_recurrent(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    let head = c.head.name.as_str();
    let usage = format!("{head} HIDDEN [last]");
    let cell = match head {
        "rnn" => Cell::Rnn,
        "lstm" => Cell::Lstm,
        _ => Cell::Gru,
    };
    let last = a.take_trailing_word(&["last"]).is_some();
    let hidden = size_arg(lw, &mut a, 0, "the hidden size", &usage);
    a.finish(&mut lw.sink, &usage, &[]);
    Some(Lowered::plain(Layer::Recurrent(Recurrent {
        cell,
        hidden: hidden?,
        last,
    })))
}
