//! A checked graph compiled to run-time-shaped layers over dfdx tensors.

use std::sync::Arc;

use dlwb_dsl::graph::{Node, Shape};
use dlwb_dsl::Graph;

use crate::autograd::{Dev, TapeKind, Value};
use crate::data::Inputs;
use crate::kernels::matmul::Prepared;
use crate::layers::{Ctx, Input, Layer, ParamsOf};
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

fn layer(n: &Node, dev: &Dev, params: &mut Params, rng: &mut rand_chacha::ChaCha8Rng) -> Layer {
    for p in &n.params {
        params.add(dev, p, rng);
    }
    // A residual's own parameters come before its body's (none today),
    // so the list's order, and the draws from `rng`, follow the graph.
    let body = n
        .body()
        .iter()
        .map(|b| layer(b, dev, params, rng))
        .collect();
    Layer::new(
        n,
        &ParamsOf {
            node: n,
            params: &*params,
        },
        body,
    )
}

/// How a forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Evaluation and inference: no dropout, batch norm's running statistics.
    Eval,
    /// Training: dropout drawn from `seed`'s stream, batch statistics.
    Train { seed: u64 },
}

/// The arithmetic of dense and conv products in a forward pass.
#[derive(Debug, Clone, Copy)]
pub enum Precision<'a> {
    Float,
    /// These weights through integer products (without a tape only).
    Int8(&'a crate::compress::Int8Weights),
}

impl Network {
    /// Runs a batch through the network. With `OwnedTape` the result
    /// carries the tape for `backward`.
    pub fn forward<T: TapeKind>(&self, inputs: &Inputs, batch: usize, pass: Pass) -> Forward<T> {
        self.forward_with(inputs, batch, pass, Precision::Float)
    }

    /// [`Network::forward`], with the dense and conv weights in `int8`
    /// evaluated through integer products (without a tape only).
    pub fn forward_with<T: TapeKind>(
        &self,
        inputs: &Inputs,
        batch: usize,
        pass: Pass,
        precision: Precision<'_>,
    ) -> Forward<T> {
        self.forward_in(&self.snapshot(), inputs, batch, pass, precision)
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
        pass: Pass,
        precision: Precision<'_>,
    ) -> Forward<T> {
        let (train, seed) = match pass {
            Pass::Eval => (false, 0),
            Pass::Train { seed } => (true, seed),
        };
        let int8 = match precision {
            Precision::Float => None,
            Precision::Int8(w) => Some(w),
        };
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
        let f = self.forward::<crate::autograd::TrainTape>(
            &batch.inputs,
            batch.size,
            Pass::Train { seed },
        );
        let out = crate::loss::objective(&self.dev, objective, f.output, &batch.targets);
        let stats = out.stats();
        let grads = crate::autograd::backward(out.loss)?;
        Ok(TrainStep {
            stats,
            grads,
            updates: f.updates,
        })
    }

    /// The batch's figures without recording anything.
    pub fn evaluate(
        &self,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        pass: Pass,
    ) -> BatchStats {
        self.evaluate_in(&self.snapshot(), batch, loss, pass, Precision::Float)
    }

    /// [`Network::evaluate`] over a snapshot of the weights.
    pub fn evaluate_in(
        &self,
        snapshot: &Snapshot<'_>,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        pass: Pass,
        precision: Precision<'_>,
    ) -> BatchStats {
        let f = self.forward_in::<crate::autograd::NoTape>(
            snapshot,
            &batch.inputs,
            batch.size,
            pass,
            precision,
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
