//! What a training step minimizes, recorded as the end of a pass.

use dlwb_dsl::experiment::Loss;

use crate::autograd::{Recorder, Value};
use crate::backend::{Backend, Result};
use crate::data::Targets;
use crate::network::BatchStats;

/// What a training step minimizes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Objective<'a> {
    Loss(Loss),
    /// Hinton et al. 2015: `alpha * T² * KL(teacher_T || student_T)` plus
    /// `(1 - alpha)` times cross-entropy with the labels.
    Distill {
        teacher: &'a [f32],
        temperature: f64,
        alpha: f64,
    },
}

/// `objective` of the outputs `y`, its gradient seeded on the tape `rec`
/// (when it records): the batch's figures.
pub(crate) fn record<B: Backend>(
    be: &B,
    rec: &mut Recorder<B>,
    objective: &Objective<'_>,
    y: &Value<B>,
    targets: &Targets,
) -> Result<BatchStats> {
    let l = be.loss(objective, &y.buf, targets)?;
    if rec.recording() {
        rec.seed(y, l.grad);
    }
    Ok(BatchStats {
        loss: l.value,
        correct: l.correct,
        count: l.count,
    })
}
