//! Normalisation: `batchnorm` (with running statistics) and `layernorm`.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::graph::{param, Init, Op, Param, Shape};

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
