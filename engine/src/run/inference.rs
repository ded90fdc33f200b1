//! How well and how fast a model infers, as compression reports it: the
//! judged split's accuracy, and the inference rate of the fastest product
//! path the model can take — dense floats, the sparse product for pruned
//! dense weights, or int8 — each timed the same way, so that the ratio of
//! two figures is the ratio of two models.

use std::time::Instant;

use dlwb_dsl::Graph;

use super::tally::evaluate;
use super::Error;
use crate::backend::Backend;
use crate::compress::{Figures, Int8Weights, SparseWeights};
use crate::data::{Data, Which};
use crate::kernels::sparse::Csr;
use crate::network::{Network, Pass, Precision};

/// The split compression is judged on: test where there is one.
fn judged(data: &Data) -> Option<Which> {
    if data.test.is_some() {
        Some(Which::Test)
    } else if data.val.is_some() {
        Some(Which::Val)
    } else {
        None
    }
}

/// The judged split's accuracy through `precision`.
fn accuracy<B: Backend>(
    net: &Network<B>,
    data: &Data,
    g: &Graph,
    limit: Option<usize>,
    precision: Precision<'_>,
) -> Result<Option<f64>, Error> {
    let Some(which) = judged(data) else {
        return Ok(None);
    };
    let t = evaluate(net, data, which, g, limit, precision)?;
    Ok((t.count > 0).then(|| t.correct as f64 / t.count as f64))
}

/// Pruned dense weights worth a sparse product: rank-2 weights at least
/// this sparse (below it the dense kernels always win).
const SPARSE_FROM: f64 = 0.5;

/// The pruned weight matrices in sparse rows (only dense layers consult
/// them; conv weights are rank 4).
fn sparse_candidates<B: Backend>(net: &Network<B>) -> Result<SparseWeights, Error> {
    let mut out = SparseWeights::new();
    for (i, p) in net.params.list.iter().enumerate() {
        if p.trainable && p.shape.len() == 2 {
            let csr = Csr::new(&net.params.host(i)?, p.shape[0], p.shape[1]);
            if csr.sparsity() >= SPARSE_FROM {
                out.insert(i, csr);
            }
        }
    }
    Ok(out)
}

/// Passes over a split at least, and seconds of passes at least, that an
/// inference rate is timed over.
const RATE_PASSES: usize = 3;
const RATE_SECONDS: f64 = 0.3;

/// Inference samples/s over the split: the forward pass alone (batches
/// assembled beforehand, no loss), the fastest of several passes so that
/// one pass's hiccup does not decide a ratio between two models.
fn inference_rate<B: Backend>(
    net: &Network<B>,
    data: &Data,
    which: Which,
    g: &Graph,
    limit: Option<usize>,
    precision: Precision<'_>,
) -> Result<f64, Error> {
    let Some(plan) = data.plan(which, g.experiment.train.batch, 0, limit) else {
        return Ok(0.0);
    };
    let batches: Vec<_> = plan.epoch(0).collect();
    let samples: usize = batches.iter().map(|b| b.size).sum();
    let weights = net.weights();
    let (mut best, mut spent, mut passes) = (f64::INFINITY, 0.0, 0);
    while passes < RATE_PASSES || (spent < RATE_SECONDS && passes < 20 * RATE_PASSES) {
        let start = Instant::now();
        for b in &batches {
            net.forward_in(&weights, &b.inputs, b.size, Pass::Eval, precision)?;
        }
        let took = start.elapsed().as_secs_f64();
        (best, spent, passes) = (best.min(took), spent + took, passes + 1);
    }
    Ok(samples as f64 / best.max(1e-9))
}

/// A model's figures: its parameters, non-zero ones, file bytes, and the
/// accuracy and inference rate of the fastest path it can take (int8 when
/// given; else dense or sparse floats, both timed, the faster kept).
pub(super) fn figures<B: Backend>(
    net: &Network<B>,
    data: &Data,
    g: &Graph,
    int8: Option<&Int8Weights>,
    bytes: usize,
    limit: Option<usize>,
) -> Result<Figures, Error> {
    let (params, nonzero) = nonzero(net)?;
    let sparse = match int8 {
        Some(_) => SparseWeights::new(),
        None => sparse_candidates(net)?,
    };
    let mut paths = vec![match int8 {
        Some(w) => (
            Precision::Int8(w),
            crate::kernels::int8::Kernel::best().name(),
        ),
        None => (Precision::Float, crate::kernels::matmul::kernel_name()),
    }];
    if !sparse.is_empty() {
        paths.push((Precision::Sparse(&sparse), "f32 sparse"));
    }
    let mut best: Option<(f64, Precision<'_>, &str)> = None;
    for (precision, kernel) in paths {
        let rate = match judged(data) {
            Some(which) => inference_rate(net, data, which, g, limit, precision)?,
            None => 0.0,
        };
        if best.as_ref().is_none_or(|(r, ..)| rate > *r) {
            best = Some((rate, precision, kernel));
        }
    }
    let (samples_per_s, precision, kernel) = best.expect("one path at least");
    Ok(Figures {
        params,
        nonzero,
        bytes,
        accuracy: accuracy(net, data, g, limit, precision)?,
        samples_per_s,
        kernel: kernel.into(),
    })
}

/// Trainable parameters, and how many are not zero.
fn nonzero<B: Backend>(net: &Network<B>) -> Result<(usize, usize), Error> {
    let trainable = net.params.list.iter().map(|p| p.trainable);
    Ok(net
        .params
        .all_host()?
        .iter()
        .zip(trainable)
        .filter(|(_, t)| *t)
        .fold((0, 0), |(n, z), (h, _)| {
            (n + h.len(), z + h.iter().filter(|v| **v != 0.0).count())
        }))
}
