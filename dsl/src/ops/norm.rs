//! Normalisation: `batchnorm` (with running statistics) and `layernorm`.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::LayerKind;
use crate::graph::{param, Init, Op, Param, Shape};
use crate::lower::layer_args::{opt_fraction, opt_positive, Args, Lowerer};
use crate::ops::{BodyLowerer, Lowered};
use crate::syntax::Command;

impl Checker<'_> {
    pub(crate) fn batchnorm(&mut self, at: &At<'_>, momentum: &f32, eps: &f32) -> Option<Shaped> {
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
            op: Op::BatchNorm {
                momentum: *momentum,
                eps: *eps,
            },
            output: input,
            flops: 4 * input.elements() as u64,
            params,
        })
    }

    pub(crate) fn layernorm(&mut self, at: &At<'_>, eps: &f32) -> Option<Shaped> {
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
            op: Op::LayerNorm { eps: *eps },
            output: input,
            flops: 5 * input.elements() as u64,
            params,
        })
    }
}

pub(crate) fn lower_batchnorm(
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
    Some(Lowered::plain(LayerKind::BatchNorm {
        momentum: momentum as f32,
        eps: eps as f32,
    }))
}

pub(crate) fn lower_layernorm(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    let eps = opt_positive(lw, &mut a, "eps").unwrap_or(1e-5);
    a.finish(&mut lw.sink, "layernorm [eps=1e-5]", &["eps"]);
    Some(Lowered::plain(LayerKind::LayerNorm { eps: eps as f32 }))
}
