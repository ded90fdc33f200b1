//! One training step, the same for a run, its fine-tuning after pruning,
//! and `dlwb bench`: forward and backward toward an objective, the
//! optimizer's update, the buffers' new values. A step whose loss or
//! gradient norm is not finite says so instead of passing for progress.

use crate::backend::Backend;
use crate::data::Batch;
use crate::loss::Objective;
use crate::network::{BatchStats, Network};
use crate::optim::Optimizer;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// What became non-finite: "the loss became NaN".
    #[error("{0}")]
    Diverged(String),
    #[error(transparent)]
    Device(#[from] crate::backend::Error),
}

/// One step at learning rate `lr`; `seed` seeds the pass's dropout.
pub(crate) fn train_step<B: Backend>(
    net: &mut Network<B>,
    opt: &mut Optimizer<B>,
    batch: &Batch,
    objective: Objective<'_, B>,
    seed: u64,
    lr: f64,
) -> Result<BatchStats, StepError> {
    let out = net.objective_and_grads(batch, objective, seed)?;
    if !out.stats.loss.is_finite() {
        // Not applied: the weights stay as the last finite step left them.
        return Err(StepError::Diverged(format!(
            "the loss became {}",
            out.stats.loss
        )));
    }
    let mut grads = out.grads;
    let s = opt.step(&mut net.params, &mut grads, lr)?;
    if !s.grad_norm.is_finite() {
        return Err(StepError::Diverged(format!(
            "the gradient norm became {}",
            s.grad_norm
        )));
    }
    net.apply_updates(out.updates);
    let be = net.params.backend().clone();
    grads.into_buffers().for_each(|g| be.recycle(g));
    Ok(out.stats)
}
