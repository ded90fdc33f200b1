//! The memory a run needs — the model's weights, gradients, optimizer
//! slots and activations, and the data set as it is held — and the refusal
//! when that is more than the machine has.

use crate::diagnostic::Diagnostic;
use crate::experiment::{Generator, OptimizerKind, SourceKind};
use crate::facts::{DEFAULT_SAMPLES, DEFAULT_SINE_STEPS};
use crate::graph::{Graph, MemoryEstimate, Node, Op};

/// Bytes as a person reads them: 1.5 GiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Bytes to train: weights, gradients, optimizer slots, every activation
/// with its gradient at the file's batch size, and the data. Convolutions
/// add nothing of their own: they either read shifted views of their input
/// or unfold one sample at a time into a buffer that stays in cache.
pub fn estimate(g: &Graph) -> MemoryEstimate {
    let params: u64 = g.params().iter().map(|p| p.len() as u64).sum();
    let slots = match g.experiment.train.optimizer.kind {
        OptimizerKind::Sgd if g.experiment.train.optimizer.momentum == 0.0 => 0,
        OptimizerKind::Sgd | OptimizerKind::Adagrad => 1,
        OptimizerKind::RmsProp => 2,
        OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::Adadelta => 2,
    };
    fn activations(nodes: &[Node]) -> u64 {
        nodes
            .iter()
            .map(|n| {
                let extra = match &n.op {
                    // Gates kept for the backward pass.
                    Op::Recurrent(r) => {
                        let steps = n.input.dims()[0];
                        (steps * r.hidden * (r.cell.gates() + 2)) as u64
                    }
                    _ => 0,
                };
                n.output.elements() as u64 * 2 + extra + activations(n.body())
            })
            .sum()
    }
    let batch = g.experiment.train.batch as u64;
    let per_sample = activations(&g.nodes).saturating_add(g.facts.input.elements() as u64);
    MemoryEstimate {
        parameters: 4 * params,
        training_state: 4 * params * (1 + slots),
        activations: (4 * 2 * batch).saturating_mul(per_sample),
        data: data_bytes(g),
    }
}

/// The data set as the engine holds it: images as bytes, synthetic samples
/// as floats, with a label each. Files the checker does not read (CSV,
/// text) count as nothing here: they were read whole to be checked.
fn data_bytes(g: &Graph) -> u64 {
    let spec = &g.experiment.data;
    let samples = spec.samples.unwrap_or(DEFAULT_SAMPLES) as u64;
    // Image sources hold their pixels as bytes, a label byte each; their
    // sample counts are the data sets' own (training and test files).
    let image = g.facts.input.elements() as u64 + 1;
    match spec.source {
        SourceKind::Mnist | SourceKind::FashionMnist => 70_000 * image,
        SourceKind::Cifar10 => 60_000 * image,
        SourceKind::Synthetic => {
            let values = match spec.generator {
                Generator::Sine => 2 * spec.window.unwrap_or(DEFAULT_SINE_STEPS) as u64,
                _ => g.facts.input.elements() as u64 + 1,
            };
            samples.saturating_mul(4 * values)
        }
        SourceKind::Csv | SourceKind::Text => 0,
    }
}

/// The error for a run that needs more than `budget` bytes, if it does.
pub fn refusal(g: &Graph, budget: u64) -> Option<Diagnostic> {
    let m = &g.memory;
    let need = m.total();
    if need <= budget {
        return None;
    }
    let data = if m.data > 0 {
        format!(", data {}", bytes(m.data))
    } else {
        String::new()
    };
    // Pointed at what is largest, with a hint to match.
    let (span, hint) = if m.data > need / 2 {
        (
            g.experiment.data.span,
            "lower `samples` in `data`, or use a smaller input shape",
        )
    } else {
        (
            g.experiment.model_span,
            "lower `batch` in `train`, or make the layers smaller",
        )
    };
    Some(
        Diagnostic::error(
            span,
            format!(
                "this model needs about {} to train at batch {} (parameters and optimizer {}, activations {}{data}), more than the {} available",
                bytes(need),
                g.experiment.train.batch,
                bytes(m.parameters + m.training_state),
                bytes(m.activations),
                bytes(budget)
            ),
        )
        .with_hint(hint),
    )
}
