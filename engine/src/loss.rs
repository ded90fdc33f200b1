//! What a training step minimizes, recorded as the end of a pass.

use crate::autograd::{Recorder, Value};
pub(crate) use crate::backend::ops::Objective;
use crate::backend::{Backend, Result};
use crate::data::Targets;

/// Loss and accuracy figures of one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    pub loss: f32,
    pub correct: usize,
    pub count: usize,
}

/// `objective` of the outputs `y`, its gradient seeded on the tape `rec`
/// (when it records): the batch's figures.
pub(crate) fn record<B: Backend>(
    be: &B,
    rec: &mut Recorder<B>,
    objective: &Objective<'_, B>,
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
