//! A checked graph compiled to run-time-shaped layers over dfdx tensors.

use std::sync::Arc;

use dlwb_dsl::graph::{param, Node, Op, Shape};
use dlwb_dsl::Graph;

use crate::autograd::{Dev, TapeKind, Value};
use crate::data::Inputs;
use crate::kernels::conv::Geometry;
use crate::kernels::matmul::Prepared;
use crate::layers::{Ctx, Input, Layer};
use crate::params::{self, Params};

pub struct Network {
    pub params: Params,
    layers: Vec<Layer>,
    pub dev: Dev,
    pub input: Shape,
    pub output: Shape,
}

/// What a forward pass gives back besides its output.
pub struct Forward<T> {
    pub output: Value<T>,
    /// Buffer values to store after the step (running statistics).
    pub updates: Vec<(usize, Vec<f32>)>,
}

/// Builds the network of `graph`, parameters initialized from `seed`.
pub fn compile(graph: &Graph, seed: u64) -> Network {
    let dev = Dev::default();
    let mut params = Params::default();
    let mut rng = params::rng(seed, crate::seeds::INIT);
    let layers = graph
        .nodes
        .iter()
        .map(|n| layer(n, &dev, &mut params, &mut rng))
        .collect();
    Network {
        params,
        layers,
        dev,
        input: graph.facts.input,
        output: graph.output(),
    }
}

/// The window of a conv or pool layer over its `[C, H, W]` input.
fn window(dims: &[usize], kernel: usize, stride: usize, pad: usize) -> Geometry {
    Geometry {
        channels: dims[0],
        height: dims[1],
        width: dims[2],
        kernel,
        stride,
        pad,
    }
}

/// A node's parameters, added to the list and found again by name
/// (`{node}.weight`), never by the order the checker declared them in.
struct Bound<'a> {
    node: &'a Node,
    params: &'a Params,
}

impl Bound<'_> {
    fn get(&self, short: &str) -> usize {
        self.maybe(short).unwrap_or_else(|| {
            panic!(
                "the checker declares {}.{short}: the engine and the checker disagree",
                self.node.name
            )
        })
    }

    fn maybe(&self, short: &str) -> Option<usize> {
        self.params.index(&format!("{}.{short}", self.node.name))
    }
}

fn layer(n: &Node, dev: &Dev, params: &mut Params, rng: &mut rand_chacha::ChaCha8Rng) -> Layer {
    for p in &n.params {
        params.add(dev, p, rng);
    }
    let bound = Bound {
        node: n,
        params: &*params,
    };
    let own = node_layer(n, &bound);
    match &n.op {
        Op::Residual { body } => {
            Layer::Residual(body.iter().map(|b| layer(b, dev, params, rng)).collect())
        }
        _ => own,
    }
}

/// The layer of a node whose parameters are in the list already.
fn node_layer(n: &Node, p: &Bound<'_>) -> Layer {
    let dims = n.input.dims();
    match &n.op {
        Op::Dense { units, .. } => Layer::Dense {
            w: p.get(param::WEIGHT),
            b: p.maybe(param::BIAS),
            fan_in: *dims.last().unwrap(),
            units: *units,
            act: n.activation,
        },
        Op::Conv {
            filters,
            kernel,
            stride,
            pad,
        } => Layer::Conv {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            filters: *filters,
            geom: window(&dims, *kernel, *stride, *pad),
            act: n.activation,
        },
        Op::Pool {
            mode,
            kernel,
            stride,
        } => Layer::Pool {
            mode: *mode,
            geom: window(&dims, *kernel, *stride, 0),
        },
        Op::Flatten => Layer::Flatten,
        Op::Dropout { p } => Layer::Dropout { p: *p },
        Op::BatchNorm { momentum, eps } => {
            let (channels, inner) = match n.input {
                Shape::Image {
                    channels,
                    height,
                    width,
                } => (channels, height * width),
                other => (*other.dims().last().unwrap(), 1),
            };
            Layer::BatchNorm {
                w: p.get(param::WEIGHT),
                b: p.get(param::BIAS),
                mean: p.get(param::RUNNING_MEAN),
                var: p.get(param::RUNNING_VAR),
                momentum: *momentum,
                eps: *eps,
                channels,
                inner,
            }
        }
        Op::LayerNorm { eps } => Layer::LayerNorm {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            eps: *eps,
            width: *dims.last().unwrap(),
        },
        Op::Embed { dim, .. } => Layer::Embed {
            w: p.get(param::WEIGHT),
            dim: *dim,
        },
        Op::Recurrent { cell, hidden, last } => Layer::Recurrent {
            cell: *cell,
            params: [
                param::WEIGHT_IH,
                param::WEIGHT_HH,
                param::BIAS_IH,
                param::BIAS_HH,
            ]
            .map(|short| p.get(short)),
            input: dims[1],
            hidden: *hidden,
            last: *last,
        },
        Op::Last => Layer::Last,
        Op::Activation { activation } => Layer::Activation(*activation),
        // Built by `layer`, which has the list to add the body's to.
        Op::Residual { .. } => Layer::Residual(Vec::new()),
    }
}

impl Network {
    /// Runs a batch through the network. `train` turns on dropout and batch
    /// statistics; `seed` drives dropout. With `OwnedTape` the result
    /// carries the tape for `backward`.
    pub fn forward<T: TapeKind>(
        &self,
        inputs: &Inputs,
        batch: usize,
        train: bool,
        seed: u64,
    ) -> Forward<T> {
        self.forward_with(inputs, batch, train, seed, None)
    }

    /// [`Network::forward`], with the dense and conv weights in `int8`
    /// evaluated through integer products (without a tape only).
    pub fn forward_with<T: TapeKind>(
        &self,
        inputs: &Inputs,
        batch: usize,
        train: bool,
        seed: u64,
        int8: Option<&crate::compress::Int8Weights>,
    ) -> Forward<T> {
        self.forward_in(&self.snapshot(), inputs, batch, train, seed, int8)
    }

    /// Host copies of every parameter, for many forward passes over the
    /// same weights (evaluation, inference). It borrows the network, so the
    /// weights cannot change while it is in use.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            host: self
                .params
                .list
                .iter()
                .map(|p| Arc::new(p.host()))
                .collect(),
            prepared: self
                .params
                .list
                .iter()
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            _weights: std::marker::PhantomData,
        }
    }

    /// [`Network::forward_with`] over a snapshot of the weights.
    pub fn forward_in<T: TapeKind>(
        &self,
        snapshot: &Snapshot<'_>,
        inputs: &Inputs,
        batch: usize,
        train: bool,
        seed: u64,
        int8: Option<&crate::compress::Int8Weights>,
    ) -> Forward<T> {
        let mut cx = Ctx {
            dev: &self.dev,
            params: &self.params,
            host: &snapshot.host,
            prepared: &snapshot.prepared,
            train,
            rng: params::rng(seed, crate::seeds::DROPOUT),
            updates: Vec::new(),
            int8,
        };
        let mut dims = vec![batch];
        dims.extend(self.input.dims());
        let input = match inputs {
            Inputs::Floats(x) => Input::Floats(Value::leaf(&self.dev, x.clone(), dims)),
            Inputs::Tokens(ids) => Input::Tokens {
                ids: Arc::new(ids.clone()),
                batch,
                steps: dims[1],
            },
        };
        let mut layers = self.layers.iter();
        let mut x = match (layers.next(), input) {
            (Some(first), input) => first.forward_input(input, &mut cx),
            (None, Input::Floats(x)) => x,
            (None, Input::Tokens { .. }) => unreachable!("checked: tokens need an embed layer"),
        };
        for l in layers {
            x = l.forward(x, &mut cx);
        }
        Forward {
            output: x,
            updates: cx.updates,
        }
    }

    /// Stores buffer values computed by a training forward pass.
    pub fn apply_updates(&mut self, updates: Vec<(usize, Vec<f32>)>) {
        for (i, v) in updates {
            self.params.list[i].set(&v);
        }
    }
}

/// Host copies of a network's weights; see [`Network::snapshot`].
pub struct Snapshot<'a> {
    host: Vec<Arc<Vec<f32>>>,
    /// Weights prepared as right-hand operands (dense weights, packed for
    /// the matrix kernel), made on first use.
    prepared: Vec<std::sync::OnceLock<Arc<Prepared>>>,
    _weights: std::marker::PhantomData<&'a Params>,
}

/// What a training pass over one batch yields.
pub struct TrainStep {
    pub stats: BatchStats,
    /// Every parameter's gradient, keyed by its tensor.
    pub grads: crate::autograd::Grads,
    /// Buffer values (running statistics) to store after the update.
    pub updates: Vec<(usize, Vec<f32>)>,
}

/// Loss and accuracy figures of one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    pub loss: f32,
    pub correct: usize,
    pub count: usize,
}

impl Network {
    /// A training forward and backward pass over one batch.
    pub fn loss_and_grads(
        &self,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        seed: u64,
    ) -> Result<TrainStep, crate::autograd::DevError> {
        self.objective_and_grads(batch, crate::loss::Objective::Loss(loss), seed)
    }

    /// A training pass toward any objective (a loss, or a teacher's outputs).
    pub fn objective_and_grads(
        &self,
        batch: &crate::data::Batch,
        objective: crate::loss::Objective<'_>,
        seed: u64,
    ) -> Result<TrainStep, crate::autograd::DevError> {
        use dfdx::tensor_ops::Backward;
        let f = self.forward::<crate::autograd::TrainTape>(&batch.inputs, batch.size, true, seed);
        let out = crate::loss::objective(&self.dev, objective, f.output, &batch.targets);
        let stats = out.stats();
        let grads = out.loss.try_backward()?;
        Ok(TrainStep {
            stats,
            grads,
            updates: f.updates,
        })
    }

    /// The batch's figures without recording anything (`train` selects
    /// dropout and batch statistics; evaluation passes false).
    pub fn evaluate(
        &self,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        train: bool,
        seed: u64,
    ) -> BatchStats {
        self.evaluate_in(&self.snapshot(), batch, loss, train, seed)
    }

    /// [`Network::evaluate`] over a snapshot of the weights.
    pub fn evaluate_in(
        &self,
        snapshot: &Snapshot<'_>,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        train: bool,
        seed: u64,
    ) -> BatchStats {
        let f = self.forward_in::<dfdx::tensor::NoneTape>(
            snapshot,
            &batch.inputs,
            batch.size,
            train,
            seed,
            None,
        );
        crate::loss::compute(&self.dev, loss, f.output, &batch.targets).stats()
    }

    /// The gradient of every parameter, in list order (zeros where none).
    pub fn grads_by_param(
        &self,
        grads: &mut crate::autograd::Grads,
    ) -> Result<Vec<Vec<f32>>, crate::autograd::DevError> {
        self.params
            .list
            .iter()
            .map(|p| Ok(grads.get_or_alloc_mut(&p.t)?.to_vec()))
            .collect()
    }
}
