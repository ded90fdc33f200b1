//! 2-D convolution over images: `conv F kernel=K [stride=S] [pad=P|same]`.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::Padding;
use crate::graph::{param, Init, Op, Shape};
use crate::layer::{Layer, Parsed, Stage};
use crate::lower::layer_args::{opt_count, size_arg, trailing_activation, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "S::Size: Serialize, S::Pad: Serialize"))]
pub struct Conv<S: Stage> {
    pub filters: S::Size,
    pub kernel: usize,
    pub stride: usize,
    /// `same` before checking, a number after.
    pub pad: S::Pad,
}

kind!(Conv<S>, "conv", lower_conv, conv);

impl Checker<'_> {
    fn conv(&mut self, at: &At<'_>, c: &Conv<Parsed>) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let (kernel, stride, pad) = (&c.kernel, &c.stride, &c.pad);
        let mut params = Vec::new();
        let filters = self.size(&c.filters)?;
        let Shape::Image {
            channels,
            height,
            width,
        } = input
        else {
            let hint = match input {
                Shape::Vector { .. } => "conv needs image data [C, H, W]; this input is flat",
                _ => "conv needs image data [C, H, W]",
            };
            self.sink.push(
                Diagnostic::error(span, format!("conv needs an image [C, H, W], got {input}"))
                    .with_hint(hint),
            );
            return None;
        };
        let pad = match pad {
            Padding::Explicit(p) => *p,
            Padding::Same => {
                if kernel.is_multiple_of(2) || *stride != 1 {
                    self.sink.push(
                        Diagnostic::error(span, "`pad=same` needs an odd kernel and stride 1")
                            .with_hint(format!(
                                "give the padding as a number, e.g. `pad={}`",
                                kernel / 2
                            )),
                    );
                    return None;
                }
                kernel / 2
            }
        };
        let (h, w) = (height + 2 * pad, width + 2 * pad);
        if *kernel > h || *kernel > w {
            self.sink.push(
                Diagnostic::error(
                    span,
                    format!(
                        "kernel {kernel} is larger than its input {height}x{width} (padding {pad})"
                    ),
                )
                .with_hint("use a smaller kernel, add padding, or pool less before it"),
            );
            return None;
        }
        let (ho, wo) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1);
        let fan_in = channels * kernel * kernel;
        let bound = 1.0 / (fan_in as f32).sqrt();
        params.push(at.param(
            param::WEIGHT,
            vec![filters, channels, *kernel, *kernel],
            Init::Uniform { bound },
        ));
        params.push(at.param(param::BIAS, vec![filters], Init::Uniform { bound }));
        let out = Shape::Image {
            channels: filters,
            height: ho,
            width: wo,
        };
        Some(Shaped {
            op: Op::Conv(Conv {
                filters,
                kernel: *kernel,
                stride: *stride,
                pad,
            }),
            output: out,
            flops: (2 * fan_in * filters * ho * wo) as u64,
            params,
        })
    }
}

fn lower_conv(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "conv FILTERS kernel=K [stride=1] [pad=0|same] [ACTIVATION]";
    let activation = trailing_activation(lw, &mut a);
    let filters = size_arg(lw, &mut a, 0, "the number of filters", USAGE);
    let kernel = match a.kw("kernel") {
        Some((v, s)) => lw.conv().count(&v, s, "the kernel size", 1),
        None => {
            lw.sink.push(
                Diagnostic::error(c.head.span, "`conv` needs a kernel size")
                    .with_hint("e.g. `conv 16 kernel=3`"),
            );
            None
        }
    };
    let stride = opt_count(lw, &mut a, "stride", "the stride", 1).unwrap_or(1);
    let pad = match a.kw("pad") {
        Some((Value::Word(w), _)) if w == "same" => Padding::Same,
        Some((v, s)) => Padding::Explicit(lw.conv().count(&v, s, "the padding", 0).unwrap_or(0)),
        None => Padding::Explicit(0),
    };
    a.finish(&mut lw.sink, USAGE, &["kernel", "stride", "pad", "slope"]);
    Some(Lowered {
        kind: Layer::Conv(Conv {
            filters: filters?,
            kernel: kernel?,
            stride,
            pad,
        }),
        activation,
    })
}
