//! Run-time-shaped layers, one per graph node, each a recorded op.

mod conv;
mod dense;
mod norm;
mod sequence;

use std::sync::Arc;

use dlwb_dsl::experiment::{Activation, Cell, PoolMode};
use rand_chacha::ChaCha8Rng;

use crate::autograd::{Dev, TapeKind, Value};
use crate::kernels::conv::Geometry;
use crate::kernels::matmul::{mat_t, Prepared};
use crate::params::Params;

/// Everything a forward pass reads besides its input.
pub struct Ctx<'a> {
    pub dev: &'a Dev,
    pub params: &'a Params,
    /// Host copies of the parameters, taken once per forward pass.
    pub host: &'a [Arc<Vec<f32>>],
    /// Weights prepared as right-hand operands, made on first use.
    pub prepared: &'a [std::sync::OnceLock<Arc<Prepared>>],
    pub train: bool,
    pub rng: ChaCha8Rng,
    /// New values for buffers (running statistics), applied after the step.
    pub updates: Vec<(usize, Vec<f32>)>,
    /// Int8 weights to evaluate through integer products (inference only).
    pub int8: Option<&'a crate::compress::Int8Weights>,
}

impl Ctx<'_> {
    /// Parameter `i` (`rows x cols`) as the transposed right-hand side of
    /// products, prepared once per snapshot (so evaluation packs each
    /// weight matrix once, not once per batch).
    pub fn transposed(&self, i: usize, rows: usize, cols: usize) -> Arc<Prepared> {
        Arc::clone(
            self.prepared[i]
                .get_or_init(|| Arc::new(Prepared::new(mat_t(&self.host[i]), cols, rows))),
        )
    }
}

// `Layer::LayerNorm` is the layer's own name, not a stutter.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone)]
pub enum Layer {
    Dense {
        w: usize,
        b: Option<usize>,
        fan_in: usize,
        units: usize,
        act: Option<Activation>,
    },
    Conv {
        w: usize,
        b: usize,
        filters: usize,
        geom: Geometry,
        act: Option<Activation>,
    },
    Pool {
        mode: PoolMode,
        geom: Geometry,
    },
    Flatten,
    Dropout {
        p: f32,
    },
    BatchNorm {
        w: usize,
        b: usize,
        mean: usize,
        var: usize,
        momentum: f32,
        eps: f32,
        channels: usize,
        /// Elements per channel per sample (H * W for images, else 1).
        inner: usize,
    },
    LayerNorm {
        w: usize,
        b: usize,
        eps: f32,
        width: usize,
    },
    Embed {
        w: usize,
        dim: usize,
    },
    Recurrent {
        cell: Cell,
        params: [usize; 4],
        input: usize,
        hidden: usize,
        last: bool,
    },
    Last,
    Activation(Activation),
    Residual(Vec<Layer>),
}

/// The network's input for one batch.
pub enum Input<T> {
    Floats(Value<T>),
    Tokens {
        ids: Arc<Vec<u32>>,
        batch: usize,
        steps: usize,
    },
}

impl Layer {
    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        match self {
            Layer::Dense {
                w,
                b,
                fan_in,
                units,
                act,
            } => dense::dense(x, cx, *w, *b, *fan_in, *units, *act),
            Layer::Conv {
                w,
                b,
                filters,
                geom,
                act,
            } => conv::conv(x, cx, *w, *b, *filters, *geom, *act),
            Layer::Pool { mode, geom } => conv::pool(x, cx, *mode, *geom),
            Layer::Flatten => {
                let b = x.shape[0];
                let rest = x.len() / b.max(1);
                x.reshaped(vec![b, rest])
            }
            Layer::Dropout { p } => dense::dropout(x, cx, *p),
            Layer::BatchNorm {
                w,
                b,
                mean,
                var,
                momentum,
                eps,
                channels,
                inner,
            } => norm::batch_norm(
                x,
                cx,
                [*w, *b, *mean, *var],
                *momentum,
                *eps,
                *channels,
                *inner,
            ),
            Layer::LayerNorm { w, b, eps, width } => norm::layer_norm(x, cx, *w, *b, *eps, *width),
            Layer::Embed { .. } => unreachable!("embed reads tokens: see `Layer::forward_input`"),
            Layer::Recurrent {
                cell,
                params,
                input,
                hidden,
                last,
            } => sequence::recurrent(x, cx, *cell, *params, *input, *hidden, *last),
            Layer::Last => dense::last(x, cx),
            Layer::Activation(a) => dense::activation(x, cx, *a),
            Layer::Residual(body) => {
                let (x, skip) = crate::autograd::fork(x);
                let mut y = x;
                for l in body {
                    y = l.forward(y, cx);
                }
                crate::autograd::add(cx.dev, y, skip)
            }
        }
    }

    /// The first layer's forward: it alone may read tokens.
    pub fn forward_input<T: TapeKind>(&self, input: Input<T>, cx: &mut Ctx<'_>) -> Value<T> {
        match (self, input) {
            (Layer::Embed { w, dim }, Input::Tokens { ids, batch, steps }) => {
                sequence::embed::<T>(cx, *w, *dim, ids, batch, steps)
            }
            (_, Input::Floats(x)) => self.forward(x, cx),
            (_, Input::Tokens { .. }) => unreachable!("checked: only embed reads tokens"),
        }
    }
}
