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

use crate::autograd::{Id, Recorder, Value};
use crate::backend::{Backend, Result};
use crate::kernels::conv::Geometry;
use crate::network::Weights;
use crate::params::Params;
pub(crate) use conv::Conv;
pub(crate) use dense::Dense;
pub(crate) use dropout::Dropout;
pub(crate) use embed::Embed;
pub(crate) use norm::{BatchNorm, LayerNorm};
pub(crate) use pool::Pool;
pub(crate) use recurrent::Recurrent;

/// Everything a forward pass reads besides its input, and what it records.
pub(crate) struct Ctx<'a, B: Backend> {
    pub be: &'a B,
    pub weights: &'a Weights<'a, B>,
    pub rec: Recorder<B>,
    pub train: bool,
    pub rng: ChaCha8Rng,
    /// New values for buffers (running statistics), applied after the step.
    pub updates: Vec<(usize, B::Buf)>,
    /// Int8 weights to evaluate through integer products (inference only).
    pub int8: Option<&'a crate::compress::Int8Weights>,
}

impl<B: Backend> Ctx<'_, B> {
    /// Parameter `i`'s values.
    pub fn param(&self, i: usize) -> &B::Buf {
        &self.weights.params.list[i].buf
    }

    /// Parameter `i`'s gradient key.
    pub fn id(&self, i: usize) -> Id {
        self.weights.params.list[i].id
    }

    /// Parameter `i` (`rows x cols`) as the transposed right-hand side of
    /// products, prepared once per set of weights (so evaluation packs
    /// each weight matrix once, not once per batch).
    pub fn transposed(&self, i: usize, rows: usize, cols: usize) -> Result<Arc<B::Prepared>> {
        let cell = &self.weights.prepared[i];
        if let Some(p) = cell.get() {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(self.be.prepare_transposed(self.param(i), rows, cols)?);
        Ok(Arc::clone(cell.get_or_init(|| p)))
    }
}

/// A node's parameters, found by name (`{node}.weight`), never by the
/// order the checker declared them in.
pub(crate) struct ParamsOf<'a, B: Backend> {
    pub node: &'a Node,
    pub params: &'a Params<B>,
}

impl<B: Backend> ParamsOf<'_, B> {
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
pub(crate) enum Layer {
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
pub(crate) enum Input<'a, B: Backend> {
    Floats(Value<B>),
    Tokens {
        ids: &'a [u32],
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
    pub fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, body: Vec<Layer>) -> Layer {
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

    pub fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        match self {
            Layer::Dense(l) => l.forward(x, cx),
            Layer::Conv(l) => l.forward(x, cx),
            Layer::Pool(l) => l.forward(x, cx),
            Layer::Flatten => Ok(reshape::flatten(x)),
            Layer::Dropout(l) => l.forward(x, cx),
            Layer::BatchNorm(l) => l.forward(x, cx),
            Layer::LayerNorm(l) => l.forward(x, cx),
            Layer::Embed(_) => unreachable!("embed reads tokens: see `Layer::forward_input`"),
            Layer::Recurrent(l) => l.forward(x, cx),
            Layer::Last => reshape::last(x, cx),
            Layer::Activation(a) => activation::forward(x, cx, *a),
            Layer::Residual(body) => {
                // The skip is the same value (same id): both paths'
                // gradients add into it.
                let skip = x.clone();
                let mut y = x;
                for l in body {
                    y = l.forward(y, cx)?;
                }
                cx.rec.add(cx.be, y, skip)
            }
        }
    }

    /// The first layer's forward: it alone may read tokens.
    pub fn forward_input<B: Backend>(
        &self,
        input: Input<'_, B>,
        cx: &mut Ctx<'_, B>,
    ) -> Result<Value<B>> {
        match (self, input) {
            (Layer::Embed(e), Input::Tokens { ids, batch, steps }) => {
                e.forward(cx, ids, batch, steps)
            }
            (_, Input::Floats(x)) => self.forward(x, cx),
            (_, Input::Tokens { .. }) => unreachable!("checked: only embed reads tokens"),
        }
    }
}
