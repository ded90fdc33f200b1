//! Run-time-shaped layers, one per graph node, each a recorded op: one
//! struct per kind in a file of its own, built from its node and asking
//! for its parameters by name.

mod activation;
mod conv;
mod dense;
mod dropout;
mod embed;
mod norm;
mod pool;
mod recurrent;
mod reshape;

use std::sync::Arc;

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::{Node, Op};
use rand_chacha::ChaCha8Rng;

use crate::autograd::{Dev, TapeKind, Value};
use crate::kernels::conv::Geometry;
use crate::kernels::matmul::{mat_t, Prepared};
use crate::params::Params;
pub use conv::Conv;
pub use dense::Dense;
pub use dropout::Dropout;
pub use embed::Embed;
pub use norm::{BatchNorm, LayerNorm};
pub use pool::Pool;
pub use recurrent::Recurrent;

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

/// A node's parameters, found by name (`{node}.weight`), never by the
/// order the checker declared them in.
pub struct ParamsOf<'a> {
    pub node: &'a Node,
    pub params: &'a Params,
}

impl ParamsOf<'_> {
    pub fn get(&self, short: &str) -> usize {
        self.maybe(short).unwrap_or_else(|| {
            panic!(
                "the checker declares {}.{short}: the engine and the checker disagree",
                self.node.name
            )
        })
    }

    pub fn maybe(&self, short: &str) -> Option<usize> {
        self.params.index(&format!("{}.{short}", self.node.name))
    }
}

// `Layer::LayerNorm` is the layer's own name, not a stutter.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone)]
pub enum Layer {
    Dense(Dense),
    Conv(Conv),
    Pool(Pool),
    Flatten,
    Dropout(Dropout),
    BatchNorm(BatchNorm),
    LayerNorm(LayerNorm),
    Embed(Embed),
    Recurrent(Recurrent),
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

/// The window of a conv or pool layer over its `[C, H, W]` input.
fn window(n: &Node, kernel: usize, stride: usize, pad: usize) -> Geometry {
    let dims = n.input.dims();
    Geometry {
        channels: dims[0],
        height: dims[1],
        width: dims[2],
        kernel,
        stride,
        pad,
    }
}

impl Layer {
    /// The layer of node `n`, whose parameters (and a residual's body's)
    /// are in the list already; `body` is a residual's built body.
    pub fn new(n: &Node, p: &ParamsOf<'_>, body: Vec<Layer>) -> Layer {
        match &n.op {
            Op::Dense { units, .. } => Layer::Dense(Dense::new(n, p, *units)),
            Op::Conv {
                filters,
                kernel,
                stride,
                pad,
            } => Layer::Conv(Conv::new(n, p, *filters, window(n, *kernel, *stride, *pad))),
            Op::Pool {
                mode,
                kernel,
                stride,
            } => Layer::Pool(Pool {
                mode: *mode,
                geom: window(n, *kernel, *stride, 0),
            }),
            Op::Flatten => Layer::Flatten,
            Op::Dropout { p } => Layer::Dropout(Dropout { p: *p }),
            Op::BatchNorm { momentum, eps } => {
                Layer::BatchNorm(BatchNorm::new(n, p, *momentum, *eps))
            }
            Op::LayerNorm { eps } => Layer::LayerNorm(LayerNorm::new(n, p, *eps)),
            Op::Embed { dim, .. } => Layer::Embed(Embed::new(p, *dim)),
            Op::Recurrent { cell, hidden, last } => {
                Layer::Recurrent(Recurrent::new(n, p, *cell, *hidden, *last))
            }
            Op::Last => Layer::Last,
            Op::Activation { activation } => Layer::Activation(*activation),
            Op::Residual { .. } => Layer::Residual(body),
            Op::Scope(never) => match *never {},
        }
    }

    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        match self {
            Layer::Dense(l) => l.forward(x, cx),
            Layer::Conv(l) => l.forward(x, cx),
            Layer::Pool(l) => l.forward(x, cx),
            Layer::Flatten => reshape::flatten(x),
            Layer::Dropout(l) => l.forward(x, cx),
            Layer::BatchNorm(l) => l.forward(x, cx),
            Layer::LayerNorm(l) => l.forward(x, cx),
            Layer::Embed(_) => unreachable!("embed reads tokens: see `Layer::forward_input`"),
            Layer::Recurrent(l) => l.forward(x, cx),
            Layer::Last => reshape::last(x, cx),
            Layer::Activation(a) => activation::forward(x, cx, *a),
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
            (Layer::Embed(e), Input::Tokens { ids, batch, steps }) => {
                e.forward::<T>(cx, ids, batch, steps)
            }
            (_, Input::Floats(x)) => self.forward(x, cx),
            (_, Input::Tokens { .. }) => unreachable!("checked: only embed reads tokens"),
        }
    }
}
