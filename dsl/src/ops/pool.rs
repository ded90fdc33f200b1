//! Max and average pooling over images: `pool max|avg K [stride=S]`.

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::PoolMode;
use crate::graph::{Op, Shape};

impl Checker<'_> {
    pub(crate) fn pool(
        &mut self,
        at: &At<'_>,
        mode: &PoolMode,
        kernel: &usize,
        stride: &usize,
    ) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let Shape::Image {
            channels,
            height,
            width,
        } = input
        else {
            self.sink.push(
                Diagnostic::error(span, format!("pool needs an image [C, H, W], got {input}"))
                    .with_hint("pooling works on the height and width of image data"),
            );
            return None;
        };
        if *kernel > height || *kernel > width {
            self.sink.push(
                Diagnostic::error(
                    span,
                    format!("pool size {kernel} is larger than its input {height}x{width}"),
                )
                .with_hint("pool less, or remove this pool"),
            );
            return None;
        }
        let (ho, wo) = (
            (height - kernel) / stride + 1,
            (width - kernel) / stride + 1,
        );
        let out = Shape::Image {
            channels,
            height: ho,
            width: wo,
        };
        Some(Shaped {
            op: Op::Pool {
                mode: *mode,
                kernel: *kernel,
                stride: *stride,
            },
            output: out,
            flops: (kernel * kernel * out.elements()) as u64,
            params: Vec::new(),
        })
    }
}
