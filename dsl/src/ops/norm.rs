//! Normalisation: `batchnorm` (with running statistics) and `layernorm`.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::graph::{param, Init, Op, Param, Shape};
use crate::layer::Layer;
use crate::lower::layer_args::{opt_fraction, opt_positive, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;

/// Batch normalization, with running statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BatchNorm {
    pub momentum: f32,
    pub eps: f32,
}

kind!(BatchNorm, "batchnorm", lower_batchnorm, batchnorm);

/// Layer normalization, over each row of the last axis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerNorm {
    pub eps: f32,
}

kind!(LayerNorm, "layernorm", lower_layernorm, layernorm);

impl Checker<'_> {
    fn batchnorm(&mut self, at: &At<'_>, b: &BatchNorm) -> Option<Shaped> {
        let input = at.input;
        let mut params = Vec::new();
        let n = match input {
            Shape::Vector { features } | Shape::Sequence { features, .. } => features,
            Shape::Image { channels, .. } => channels,
            Shape::Tokens { .. } => {
                self.float_only(at, "batchnorm");
                return None;
            }
        };
        params.push(at.param(param::WEIGHT, vec![n], Init::Ones));
        params.push(at.param(param::BIAS, vec![n], Init::Zeros));
        for (s, init) in [
            (param::RUNNING_MEAN, Init::Zeros),
            (param::RUNNING_VAR, Init::Ones),
        ] {
            params.push(Param {
                trainable: false,
                ..at.param(s, vec![n], init)
            });
        }
        Some(Shaped {
            op: Op::BatchNorm(*b),
            output: input,
            flops: 4 * input.elements() as u64,
            params,
        })
    }

    fn layernorm(&mut self, at: &At<'_>, l: &LayerNorm) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let mut params = Vec::new();
        let n = match input {
            Shape::Vector { features } | Shape::Sequence { features, .. } => features,
            Shape::Image { .. } => {
                self.sink.push(
                    Diagnostic::error(
                        span,
                        format!("layernorm needs a vector or a sequence, got {input}"),
                    )
                    .with_hint("use `batchnorm` for images, or `flatten` first"),
                );
                return None;
            }
            Shape::Tokens { .. } => {
                self.float_only(at, "layernorm");
                return None;
            }
        };
        params.push(at.param(param::WEIGHT, vec![n], Init::Ones));
        params.push(at.param(param::BIAS, vec![n], Init::Zeros));
        Some(Shaped {
            op: Op::LayerNorm(*l),
            output: input,
            flops: 5 * input.elements() as u64,
            params,
        })
    }
}

fn lower_batchnorm(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    let momentum = opt_fraction(lw, &mut a, "momentum").unwrap_or(0.1);
    let eps = opt_positive(lw, &mut a, "eps").unwrap_or(1e-5);
    a.finish(
        &mut lw.sink,
        "batchnorm [momentum=0.1] [eps=1e-5]",
        &["momentum", "eps"],
    );
    Some(Lowered::plain(Layer::BatchNorm(BatchNorm {
        momentum: momentum as f32,
        eps: eps as f32,
    })))
}

fn lower_layernorm(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    let eps = opt_positive(lw, &mut a, "eps").unwrap_or(1e-5);
    a.finish(&mut lw.sink, "layernorm [eps=1e-5]", &["eps"]);
    Some(Lowered::plain(Layer::LayerNorm(LayerNorm {
        eps: eps as f32,
    })))
}
