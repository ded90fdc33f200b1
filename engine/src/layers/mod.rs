//! Run-time-shaped layers, one per graph node, each a recorded op. Each
//! kind's file holds its layer (built from the kind's checked arguments
//! with [`Build`], asking for its parameters by name) and its [`Forward`].
//! The [`Layer`] enum and its dispatch are generated from the dsl's table
//! of kinds (`dlwb_dsl::for_each_kind`).

mod activation;
mod conv;
mod dense;
mod dropout;
mod embed;
mod norm;
mod pool;
mod recurrent;
mod reshape;
mod residual;

use std::sync::{Arc, OnceLock};

use dlwb_dsl::graph::{Node, Op};
use rand_chacha::ChaCha8Rng;

use crate::autograd::{Id, Recorder, Value};
use crate::backend::{Backend, Result};
use crate::kernels::conv::Geometry;
use crate::params::Params;

/// A network's weights made ready for many forward passes (evaluation,
/// inference): each weight matrix prepared once, on first use. It borrows
/// the parameters, so they cannot change while it is in use.
pub(crate) struct Weights<'a, B: Backend> {
    pub params: &'a Params<B>,
    pub prepared: Vec<OnceLock<Arc<B::Prepared>>>,
}

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
    pub sparse: Option<&'a crate::compress::SparseWeights>,
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

/// The network's input for one batch.
pub(crate) enum Input<'a, B: Backend> {
    Floats(Value<B>),
    Tokens {
        ids: &'a [u32],
        batch: usize,
        steps: usize,
    },
}

/// How a kind's checked arguments become its layer.
pub(crate) trait Build {
    type Layer: Forward;

    /// The layer of node `n`, whose parameters (and a residual's body's)
    /// are in the list already; `body` is a residual's built body.
    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, body: Vec<Layer>) -> Self::Layer;
}

/// A layer's pass: its output, with its backward recorded.
pub(crate) trait Forward {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>>;

    /// The pass as the network's first layer, which alone may read tokens.
    fn forward_input<B: Backend>(
        &self,
        input: Input<'_, B>,
        cx: &mut Ctx<'_, B>,
    ) -> Result<Value<B>> {
        match input {
            Input::Floats(x) => self.forward(x, cx),
            Input::Tokens { .. } => unreachable!("checked: only embed reads tokens"),
        }
    }
}

/// `l` and the layer after it in one pass, where a backend kernel does
/// both (a convolution and the 2x2 max pool after it, through int8 weights
/// at inference): `None` where none does.
pub(crate) fn fused<B: Backend>(
    l: &Layer,
    next: Option<&Layer>,
    x: &Value<B>,
    cx: &mut Ctx<'_, B>,
) -> Result<Option<Value<B>>> {
    match (l, next) {
        (Layer::Conv(conv), Some(Layer::Pool(pool))) => conv.forward_pooled(x, pool, cx),
        _ => Ok(None),
    }
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

/// The stage of the arguments the engine builds from.
type S = dlwb_dsl::layer::Checked;

macro_rules! engine_layers {
    ($($variant:ident => $module:ident :: $args:ident $(<$stage:ident>)?,)*) => {
        /// One variant per kind, holding that kind's layer.
        // `Layer::LayerNorm` is the kind's own name, not a stutter.
        #[allow(clippy::enum_variant_names)]
        pub(crate) enum Layer {
            $($variant(<dlwb_dsl::ops::$module::$args $(<$stage>)? as Build>::Layer),)*
        }

        impl Layer {
            pub fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, body: Vec<Layer>) -> Layer {
                match &n.op {
                    $(Op::$variant(a) => Layer::$variant(a.build(n, p, body)),)*
                    Op::Scope(never) => match *never {},
                }
            }

            pub fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
                match self {
                    $(Layer::$variant(l) => l.forward(x, cx),)*
                }
            }

            /// The first layer's forward: it alone may read tokens.
            pub fn forward_input<B: Backend>(
                &self,
                input: Input<'_, B>,
                cx: &mut Ctx<'_, B>,
            ) -> Result<Value<B>> {
                match self {
                    $(Layer::$variant(l) => l.forward_input(input, cx),)*
                }
            }
        }
    };
}

dlwb_dsl::for_each_kind!(engine_layers);
