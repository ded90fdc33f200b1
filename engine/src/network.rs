//! A checked graph compiled to run-time-shaped layers on a backend.

use std::sync::{Arc, OnceLock};

use dlwb_dsl::graph::{Node, Shape};
use dlwb_dsl::Graph;

use crate::autograd::{Grads, Recorder, Value};
use crate::backend::cpu::Cpu;
use crate::backend::{Backend, Result};
use crate::data::Inputs;
use crate::layers::{Ctx, Input, Layer, ParamsOf, Weights};
pub(crate) use crate::loss::BatchStats;
use crate::loss::Objective;
use crate::params::{self, Params};

pub(crate) struct Network<B: Backend = Cpu> {
    pub be: Arc<B>,
    pub params: Params<B>,
    layers: Vec<Layer>,
    pub input: Shape,
}

/// Builds the network of `graph` on the CPU, parameters initialized from
/// `seed`: the engine's tests' shortcut.
#[cfg(test)]
pub(crate) fn compile(graph: &Graph, seed: u64) -> Network {
    compile_on(Arc::new(Cpu::default()), graph, seed).expect("host memory holds the checked model")
}

/// Builds the network of `graph` on backend `be`.
pub(crate) fn compile_on<B: Backend>(be: Arc<B>, graph: &Graph, seed: u64) -> Result<Network<B>> {
    let mut params = Params::new(Arc::clone(&be));
    let mut rng = params::rng(seed, crate::seeds::INIT);
    let layers = graph
        .nodes
        .iter()
        .map(|n| layer(n, &mut params, &mut rng))
        .collect::<Result<_>>()?;
    Ok(Network {
        be,
        params,
        layers,
        input: graph.facts.input,
    })
}

fn layer<B: Backend>(
    n: &Node,
    params: &mut Params<B>,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<Layer> {
    for p in &n.params {
        params.add(p, rng)?;
    }
    // A residual's own parameters come before its body's (none today),
    // so the list's order, and the draws from `rng`, follow the graph.
    let body = n
        .body()
        .iter()
        .map(|b| layer(b, params, rng))
        .collect::<Result<_>>()?;
    Ok(Layer::new(
        n,
        &ParamsOf {
            node: n,
            params: &*params,
        },
        body,
    ))
}

/// How a forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Evaluation and inference: no dropout, batch norm's running statistics.
    Eval,
    /// Training: dropout drawn from `seed`'s stream, batch statistics.
    Train { seed: u64 },
}

/// The arithmetic of dense and conv products in a forward pass.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Precision<'a> {
    Float,
    /// These weights through integer products (without a tape only).
    Int8(&'a crate::compress::Int8Weights),
    /// These pruned dense weights through sparse products (likewise).
    Sparse(&'a crate::compress::SparseWeights),
}

impl<'a> Precision<'a> {
    /// Integer products for the weights in `int8`; floats when it is empty
    /// (a float checkpoint).
    pub fn of(int8: &'a crate::compress::Int8Weights) -> Self {
        if int8.is_empty() {
            Precision::Float
        } else {
            Precision::Int8(int8)
        }
    }
}

/// What a forward pass gives back besides its output.
struct Forward<B: Backend> {
    output: Value<B>,
    /// Buffer values to store after the step (running statistics).
    updates: Vec<(usize, B::Buf)>,
    rec: Recorder<B>,
}

impl<B: Backend> Network<B> {
    pub fn weights(&self) -> Weights<'_, B> {
        Weights {
            params: &self.params,
            prepared: self.params.list.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The outputs of a batch, recording nothing.
    pub fn forward(&self, inputs: &Inputs, batch: usize, pass: Pass) -> Result<Value<B>> {
        self.forward_in(&self.weights(), inputs, batch, pass, Precision::Float)
    }

    /// [`Network::forward`] over prepared weights, with the dense and conv
    /// weights in `Precision::Int8` evaluated through integer products.
    pub fn forward_in(
        &self,
        weights: &Weights<'_, B>,
        inputs: &Inputs,
        batch: usize,
        pass: Pass,
        precision: Precision<'_>,
    ) -> Result<Value<B>> {
        let f = self.pass(weights, inputs, batch, (pass, precision), Recorder::off())?;
        Ok(f.output)
    }

    /// A value's data, downloaded.
    pub fn download(&self, v: &Value<B>) -> Result<Vec<f32>> {
        self.be.download(&v.buf)
    }

    /// The outputs of a batch, downloaded.
    pub fn outputs(&self, inputs: &Inputs, batch: usize, pass: Pass) -> Result<Vec<f32>> {
        self.download(&self.forward(inputs, batch, pass)?)
    }

    fn pass(
        &self,
        weights: &Weights<'_, B>,
        inputs: &Inputs,
        batch: usize,
        (pass, precision): (Pass, Precision<'_>),
        rec: Recorder<B>,
    ) -> Result<Forward<B>> {
        let (train, seed) = match pass {
            Pass::Eval => (false, 0),
            Pass::Train { seed } => (true, seed),
        };
        let (int8, sparse) = match precision {
            Precision::Float => (None, None),
            Precision::Int8(w) => (Some(w), None),
            Precision::Sparse(w) => (None, Some(w)),
        };
        let mut cx = Ctx {
            be: &*self.be,
            weights,
            rec,
            train,
            rng: params::rng(seed, crate::seeds::DROPOUT),
            updates: Vec::new(),
            int8,
            sparse,
        };
        let mut dims = vec![batch];
        dims.extend(self.input.dims());
        let input = match inputs {
            Inputs::Floats(x) => Input::Floats(Value::leaf(self.be.upload_shared(x)?, dims)),
            Inputs::Tokens(ids) => Input::Tokens {
                ids,
                batch,
                steps: dims[1],
            },
        };
        let mut layers = self.layers.iter().peekable();
        let mut x = match (input, layers.next_if(|l| matches!(l, Layer::Embed(_)))) {
            (Input::Floats(x), None) => x,
            (input, Some(embed)) => embed.forward_input(input, &mut cx)?,
            (Input::Tokens { .. }, None) => unreachable!("checked: tokens need an embed layer"),
        };
        while let Some(l) = layers.next() {
            if let Some(y) = crate::layers::fused(l, layers.peek().copied(), &x, &mut cx)? {
                layers.next();
                x = y;
            } else {
                x = l.forward(x, &mut cx)?;
            }
        }
        Ok(Forward {
            output: x,
            updates: cx.updates,
            rec: cx.rec,
        })
    }

    /// Stores buffer values computed by a training forward pass.
    pub fn apply_updates(&mut self, updates: Vec<(usize, B::Buf)>) {
        for (i, v) in updates {
            self.params.list[i].buf = v;
        }
    }
}

/// What a training pass over one batch yields.
pub(crate) struct TrainStep<B: Backend> {
    pub stats: BatchStats,
    /// Every parameter's gradient, keyed by its id.
    pub grads: Grads<B>,
    /// Buffer values (running statistics) to store after the update.
    pub updates: Vec<(usize, B::Buf)>,
}

impl<B: Backend> Network<B> {
    /// A training pass toward any objective (a loss, or a teacher's outputs).
    pub fn objective_and_grads(
        &self,
        batch: &crate::data::Batch,
        objective: Objective<'_, B>,
        seed: u64,
    ) -> Result<TrainStep<B>> {
        let how = (Pass::Train { seed }, Precision::Float);
        let weights = self.weights();
        let mut f = self.pass(&weights, &batch.inputs, batch.size, how, Recorder::on())?;
        let stats =
            crate::loss::record(&*self.be, &mut f.rec, &objective, &f.output, &batch.targets)?;
        let grads = f.rec.backward(&self.be)?;
        Ok(TrainStep {
            stats,
            grads,
            updates: f.updates,
        })
    }

    /// [`Network::evaluate`] over prepared weights.
    pub fn evaluate_in(
        &self,
        weights: &Weights<'_, B>,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        pass: Pass,
        precision: Precision<'_>,
    ) -> Result<BatchStats> {
        let y = self.forward_in(weights, &batch.inputs, batch.size, pass, precision)?;
        let mut off = Recorder::off();
        crate::loss::record(
            &*self.be,
            &mut off,
            &Objective::Loss(loss),
            &y,
            &batch.targets,
        )
    }
}

/// Shortcuts the engine's own tests use.
#[cfg(test)]
impl<B: Backend> Network<B> {
    /// A training forward and backward pass over one batch.
    pub fn loss_and_grads(
        &self,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        seed: u64,
    ) -> Result<TrainStep<B>> {
        self.objective_and_grads(batch, Objective::Loss(loss), seed)
    }

    /// The batch's figures without recording anything.
    pub fn evaluate(
        &self,
        batch: &crate::data::Batch,
        loss: dlwb_dsl::experiment::Loss,
        pass: Pass,
    ) -> BatchStats {
        self.evaluate_in(&self.weights(), batch, loss, pass, Precision::Float)
            .expect("the test's backend evaluates")
    }

    /// The gradient of every parameter, in list order (zeros where none).
    pub fn grads_by_param(&self, grads: &mut Grads<B>) -> Result<Vec<Vec<f32>>> {
        self.params
            .list
            .iter()
            .map(|p| self.be.download(grads.slot(&self.be, p.id, p.len())?))
            .collect()
    }
}
