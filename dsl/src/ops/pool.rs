//! Max and average pooling over images: `pool max|avg K [stride=S]`.

use serde::Serialize;

use crate::check::{At, Checker, Shaped};
use crate::diagnostic::Diagnostic;
use crate::experiment::PoolMode;
use crate::graph::{Op, Shape};
use crate::layer::Layer;
use crate::lower::layer_args::{opt_count, Args, Lowerer};
use crate::ops::{kind, BodyLowerer, Lowered};
use crate::syntax::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pool {
    pub mode: PoolMode,
    pub kernel: usize,
    pub stride: usize,
}

kind!(Pool, "pool", lower_pool, pool);

impl Checker<'_> {
    fn pool(&mut self, at: &At<'_>, p: &Pool) -> Option<Shaped> {
        let (span, input) = (at.span, at.input);
        let (kernel, stride) = (&p.kernel, &p.stride);
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
            op: Op::Pool(*p),
            output: out,
            flops: (kernel * kernel * out.elements()) as u64,
            params: Vec::new(),
        })
    }
}

fn lower_pool(
    lw: &mut Lowerer<'_>,
    mut a: Args,
    _c: &Command,
    _body: BodyLowerer<'_>,
) -> Option<Lowered> {
    const USAGE: &str = "pool max|avg SIZE [stride=SIZE]";
    let mode = match a.pos(0) {
        Some((v, s)) => match lw.conv().choice(&v, s, "pooling", &["max", "avg"])? {
            "max" => PoolMode::Max,
            _ => PoolMode::Avg,
        },
        None => {
            a.missing(&mut lw.sink, "`max` or `avg` and a size", USAGE);
            return None;
        }
    };
    let kernel = match a.pos(1) {
        Some((v, s)) => lw.conv().count(&v, s, "the pool size", 1)?,
        None => {
            a.missing(&mut lw.sink, "a size", USAGE);
            return None;
        }
    };
    let stride = opt_count(lw, &mut a, "stride", "the stride", 1).unwrap_or(kernel);
    a.finish(&mut lw.sink, USAGE, &["stride"]);
    Some(Lowered::plain(Layer::Pool(Pool {
        mode,
        kernel,
        stride,
    })))
}
