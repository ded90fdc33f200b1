//! Optimizers over the named parameter list, with L1/L2 penalties,
//! global-norm clipping and learning-rate schedules. The update rules
//! themselves are the backend's (`UpdateOps`).

use dlwb_dsl::experiment::{OptimizerSpec, Schedule, TrainSpec};

use crate::autograd::Grads;
use crate::backend::ops::Update;
use crate::backend::{Backend, Result};
use crate::params::{Param, Params};

pub(crate) struct Optimizer<B: Backend = crate::backend::cpu::Cpu> {
    spec: OptimizerSpec,
    l1: f64,
    l2: f64,
    clip: Option<f64>,
    /// Updates taken so far (Adam's bias correction counts from 1).
    pub steps: i32,
    /// Each parameter's state, by its place in the list, made on first use.
    slots: Vec<Option<B::Slots>>,
}

/// What one update saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// A parameter's optimizer state, made (zeros) on first use.
fn made<'s, B: Backend>(
    be: &B,
    slots: &'s mut Option<B::Slots>,
    len: usize,
) -> Result<&'s mut B::Slots> {
    if slots.is_none() {
        *slots = Some(be.slots(len)?);
    }
    Ok(slots.as_mut().expect("made just above"))
}

/// Penalties apply to weight matrices and kernels, not to biases or norms.
fn penalized<B: Backend>(p: &Param<B>) -> bool {
    p.shape.len() >= 2
}

impl<B: Backend> Optimizer<B> {
    pub fn new(train: &TrainSpec) -> Self {
        Optimizer {
            spec: train.optimizer.clone(),
            l1: train.l1,
            l2: train.l2,
            clip: train.clip_grad,
            steps: 0,
            slots: Vec::new(),
        }
    }

    /// One update of every trainable parameter from `grads` at rate `lr`.
    pub fn step(
        &mut self,
        params: &mut Params<B>,
        grads: &mut Grads<B>,
        lr: f64,
    ) -> Result<StepStats> {
        self.steps += 1;
        let be = params.backend().clone();
        let be = &*be;
        // Penalties, then the global norm over every gradient.
        let mut norm_sq = 0f64;
        for p in params.list.iter().filter(|p| p.trainable) {
            let g = grads.slot(be, p.id, p.len())?;
            if (self.l1 > 0.0 || self.l2 > 0.0) && penalized(p) {
                be.penalize(g, &p.buf, self.l1, self.l2)?;
            }
            norm_sq += be.sum_of_squares(g)?;
        }
        let grad_norm = norm_sq.sqrt();
        if let Some(max) = self.clip {
            // As torch.nn.utils.clip_grad_norm_.
            let coef = max / (grad_norm + 1e-6);
            if coef < 1.0 {
                for p in params.list.iter().filter(|p| p.trainable) {
                    be.scale(grads.slot(be, p.id, p.len())?, coef as f32)?;
                }
            }
        }
        let u = Update {
            rule: &self.spec,
            step: self.steps,
            lr,
        };
        self.slots.resize_with(params.list.len(), || None);
        for (p, slots) in params.list.iter_mut().zip(&mut self.slots) {
            if !p.trainable {
                continue;
            }
            let slots = made(be, slots, p.len())?;
            let g = grads.slot(be, p.id, p.len())?;
            be.update(u, &mut p.buf, g, slots)?;
        }
        Ok(StepStats { grad_norm })
    }
}

/// The learning rate at a fractional epoch: linear warm-up, then the
/// schedule over the remaining epochs.
pub(crate) fn learning_rate(train: &TrainSpec, epoch: f64) -> f64 {
    let base = train.optimizer.lr;
    if train.warmup > 0.0 && epoch < train.warmup {
        return base * (epoch / train.warmup).max(1e-3);
    }
    match train.schedule {
        Schedule::Constant => base,
        Schedule::Step { every, gamma } => base * gamma.powi((epoch / every as f64).floor() as i32),
        Schedule::Cosine { min_lr } => {
            let span = (train.epochs as f64 - train.warmup).max(1e-9);
            let progress = ((epoch - train.warmup) / span).clamp(0.0, 1.0);
            min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    }
}

impl<B: Backend> Optimizer<B> {
    /// The state slots as named tensors, for checkpoints.
    pub fn export(&mut self, params: &Params<B>) -> Result<Vec<(String, Vec<f32>)>> {
        let be = params.backend();
        self.slots.resize_with(params.list.len(), || None);
        let mut out = Vec::new();
        for (p, slots) in params.list.iter().zip(&mut self.slots) {
            if !p.trainable {
                continue;
            }
            let s = made(&**be, slots, p.len())?;
            let [a, b] = be.export_slots(s)?;
            out.push((format!("optim.state1.{}", p.name), a));
            out.push((format!("optim.state2.{}", p.name), b));
        }
        Ok(out)
    }

    /// Restores state slots saved by [`Optimizer::export`].
    pub fn import(
        &mut self,
        params: &Params<B>,
        get: impl Fn(&str) -> Option<Vec<f32>>,
        steps: i32,
    ) -> Result<()> {
        let be = params.backend();
        self.slots.resize_with(params.list.len(), || None);
        for (p, slots) in params.list.iter().zip(&mut self.slots) {
            if !p.trainable {
                continue;
            }
            let s = made(&**be, slots, p.len())?;
            let values = ["state1", "state2"].map(|slot| get(&format!("optim.{slot}.{}", p.name)));
            be.import_slots(s, values)?;
        }
        self.steps = steps;
        Ok(())
    }
}
