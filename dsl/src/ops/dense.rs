//! Fully connected layers: `dense N [bias=false]`, over vectors or every step of a sequence.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::graph::{param, Init, Op, Shape};
use crate::layer::{Layer, Parsed, Stage};
use crate::lower::layer_args::{size_arg, trailing_activation, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "S::Size: Serialize"))]
pub struct Dense<S: Stage> {
    pub units: S::Size,
    pub bias: bool,
}

kind!(Dense<S>, "dense", lower_dense, dense);

impl Checker<'_> {
    fn dense(&mut self, at: &At<'_>, d: &Dense<Parsed>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let mut params = Vec::new();
        let units = self.size(&d.units)?;
        let bias = d.bias;
        let (fan_in, output, steps) = match input {
            Shape::Vector { features } => (features, Shape::Vector { features: units }, 1),
            Shape::Sequence { steps, features } => (
                features,
                Shape::Sequence {
                    steps,
                    features: units,
                },
                steps,
            ),
            Shape::Image { .. } => {
                self.sink.push(
                    Diagnostic::error(span, format!("dense needs a vector, got {input}"))
                        .with_hint("add `flatten` before it"),
                );
                return None;
            }
            Shape::Tokens { .. } => {
                self.float_only(at, "dense");
                return None;
            }
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        params.push(at.param(param::WEIGHT, vec![units, fan_in], Init::Uniform { bound }));
        if bias {
            params.push(at.param(param::BIAS, vec![units], Init::Uniform { bound }));
        }
        Some(Shaped {
            op: Op::Dense(Dense { units, bias }),
            output,
            flops: (2 * fan_in * units * steps) as u64,
            params,
        })
    }
}

fn lower_dense(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "dense UNITS [ACTIVATION] [bias=false]";
    let activation = trailing_activation(lw, &mut a);
    let units = size_arg(lw, &mut a, 0, "the number of units", USAGE)?;
    let bias = match a.kw("bias") {
        Some((v, s)) => lw.conv().boolean(&v, s, "`bias`").unwrap_or(true),
        None => true,
    };
    a.finish(&mut lw.sink, USAGE, &["bias", "slope"]);
    Some(Lowered {
        kind: Layer::Dense(Dense { units, bias }),
        activation,
    })
}
