//! `dlwb bench`: training and inference speed on synthetic batches of a
//! file's input shape and batch size, after warm-up.

use std::sync::Arc;
use std::time::Instant;

use dlwb_dsl::{Graph, Shape, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::backend::cpu::Cpu;
use crate::backend::Backend;
use crate::compress::{int8_weights, prune};
use crate::data::{Batch, Inputs, Targets};
use crate::loss::Objective;
use crate::network::{compile_on, Pass, Precision};
use crate::optim::Optimizer;
use crate::trainer::train_step;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Where it ran: `cpu`, or `cuda:0 (NVIDIA H200, 140 GiB)`.
    pub device: String,
    pub train_samples_per_s: f64,
    pub infer_samples_per_s: f64,
    /// Inference with every weight matrix that has an int8 kernel stored as
    /// int8 (as `compress { quantize int8 }` leaves it); absent where none
    /// has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_int8_samples_per_s: Option<f64>,
    /// On the CPU: the float product's kernel, block sizes and the caches
    /// they were sized from (`kernels::matmul::products_description`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<String>,
    pub threads: usize,
    pub batch: usize,
    pub steps: usize,
}

/// A batch of `b` random samples shaped as the graph's data.
pub fn synthetic_batch(g: &Graph, b: usize, seed: u64) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inputs = match g.facts.input {
        Shape::Tokens { steps } => {
            let vocab = match g.facts.target {
                Target::NextToken { vocab } => vocab as u32,
                _ => 2,
            };
            Inputs::Tokens((0..b * steps).map(|_| rng.gen_range(0..vocab)).collect())
        }
        s => Inputs::Floats(std::sync::Arc::new(
            (0..b * s.elements())
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect(),
        )),
    };
    let targets = match g.facts.target {
        Target::Classes { classes } => {
            Targets::Classes((0..b).map(|_| rng.gen_range(0..classes as u32)).collect())
        }
        Target::NextToken { vocab } => {
            let steps = g.facts.input.dims()[0];
            Targets::Tokens(
                (0..b * steps)
                    .map(|_| rng.gen_range(0..vocab as u32))
                    .collect(),
            )
        }
        Target::Values { shape } => Targets::Values(
            (0..b * shape.elements())
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect(),
        ),
    };
    Batch {
        size: b,
        inputs,
        targets,
    }
}

/// Samples per second of `f`, one batch of `batch` per call: the median of
/// three repeats, each of at least `steps` calls and `seconds`.
fn median_rate(
    steps: usize,
    seconds: f64,
    batch: usize,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<f64, String> {
    let mut rates = Vec::with_capacity(3);
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0;
        while n < steps || t.elapsed().as_secs_f64() < seconds {
            f()?;
            n += 1;
        }
        rates.push((n * batch) as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[1])
}

/// Measures `g`'s model on `device`.
pub fn run(
    g: &Graph,
    steps: usize,
    seconds: f64,
    threads: Option<usize>,
    device: crate::device::Device,
) -> Result<BenchResult, String> {
    if let Some(t) = threads {
        crate::kernels::matmul::set_threads(t);
    }
    match device {
        crate::device::Device::Cpu => {
            let result = measure(Arc::new(Cpu::default()), g, (steps, seconds))?;
            Ok(BenchResult {
                products: Some(crate::kernels::matmul::products_description()),
                ..result
            })
        }
        #[cfg(feature = "cuda")]
        crate::device::Device::Cuda(n) => {
            let be = crate::backend::cuda::Cuda::open(n).map_err(|e| e.to_string())?;
            measure(Arc::new(be), g, (steps, seconds))
        }
        #[cfg(not(feature = "cuda"))]
        crate::device::Device::Cuda(_) => Err("this dlwb was built without CUDA".into()),
    }
}

fn measure<B: Backend>(
    be: Arc<B>,
    g: &Graph,
    (steps, seconds): (usize, f64),
) -> Result<BenchResult, String> {
    let train = &g.experiment.train;
    let b = train.batch;
    let batch = synthetic_batch(g, b, 1);
    let mut net = compile_on(be, g, train.seed).map_err(|e| e.to_string())?;
    let mut opt = Optimizer::new(train);
    let warmup = 3.min(steps);
    let objective = Objective::Loss(g.loss);
    let lr = train.optimizer.lr;
    let mut step = |i: usize| -> Result<(), String> {
        train_step(&mut net, &mut opt, &batch, objective, i as u64, lr)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for i in 0..warmup {
        step(i)?;
    }
    // As the PyTorch peer measures: the median of three repeats, each long
    // enough to time well.
    let train_rate = median_rate(steps, seconds, b, || step(0))?;
    for _ in 0..warmup {
        net.outputs(&batch.inputs, b, Pass::Eval)
            .map_err(|e| e.to_string())?;
    }
    let weights = net.weights();
    let infer = |precision: Precision<'_>| {
        median_rate(steps, seconds, b, || {
            let y = net
                .forward_in(&weights, &batch.inputs, b, Pass::Eval, precision)
                .and_then(|y| net.download(&y))
                .map_err(|e| e.to_string())?;
            std::hint::black_box(y);
            Ok(())
        })
    };
    let infer_rate = infer(Precision::Float)?;
    let covered = prune::covered(g, &net.params);
    let int8 = int8_weights(&net.params, &covered).map_err(|e| e.to_string())?;
    let infer_int8_rate = match int8.is_empty() {
        true => None,
        false => Some(infer(Precision::Int8(&int8))?),
    };
    Ok(BenchResult {
        device: net.be.describe(),
        train_samples_per_s: train_rate,
        infer_samples_per_s: infer_rate,
        infer_int8_samples_per_s: infer_int8_rate,
        products: None,
        threads: crate::kernels::matmul::threads(),
        batch: b,
        steps,
    })
}
