//! 2-D convolution over images: `conv F kernel=K [stride=S] [pad=P|same]`.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::{Padding, SizeArg};
use crate::graph::{param, Init, Op, Shape};

impl Checker<'_> {
    pub(crate) fn conv(
        &mut self,
        at: &At<'_>,
        filters: &SizeArg,
        kernel: &usize,
        stride: &usize,
        pad: &Padding,
    ) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let mut params = Vec::new();
        let filters = self.size(filters)?;
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
            op: Op::Conv {
                filters,
                kernel: *kernel,
                stride: *stride,
                pad,
            },
            output: out,
            flops: (2 * fan_in * filters * ho * wo) as u64,
            params,
        })
    }
}
