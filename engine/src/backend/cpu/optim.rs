//! Optimizers over the named parameter list, from simple to complex, with
//! L1/L2 penalties, global-norm clipping and learning-rate schedules.
//!
//! SGD (momentum, Nesterov), Adam and AdamW use dfdx's update kernels,
//! whose arithmetic is PyTorch's. RMSprop, Adagrad and Adadelta are written
//! here to PyTorch's definitions (Adagrad: Duchi et al. 2011; Adadelta:
//! Zeiler 2012; RMSprop: Hinton's lecture 6e).

use dfdx::optim::{Momentum, WeightDecay};
use dfdx::tensor_ops::{AdamConfig, SgdConfig};
use dlwb_dsl::experiment::{OptimizerKind, OptimizerSpec, Schedule, TrainSpec};

use crate::autograd::{DevError, Grads};
use crate::params::{Param, Params};

pub struct Optimizer {
    spec: OptimizerSpec,
    l1: f64,
    l2: f64,
    clip: Option<f64>,
    /// Updates taken so far (Adam's bias correction counts from 1).
    pub steps: i32,
    /// First and second state slots per parameter, keyed by its tensor.
    state1: Grads,
    state2: Grads,
}

/// What one update saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// Penalties apply to weight matrices and kernels, not to biases or norms.
fn penalized(p: &Param) -> bool {
    p.shape.len() >= 2
}

impl Optimizer {
    pub fn new(train: &TrainSpec) -> Self {
        Optimizer {
            spec: train.optimizer.clone(),
            l1: train.l1,
            l2: train.l2,
            clip: train.clip_grad,
            steps: 0,
            state1: Grads::leaky(),
            state2: Grads::leaky(),
        }
    }

    /// One update of every trainable parameter from `grads` at rate `lr`.
    pub fn step(
        &mut self,
        params: &mut Params,
        grads: &mut Grads,
        lr: f64,
    ) -> Result<StepStats, DevError> {
        self.steps += 1;
        // Penalties, then the global norm over every gradient.
        let mut norm_sq = 0f64;
        for p in params.list.iter().filter(|p| p.trainable) {
            let g = grads.get_or_alloc_mut(&p.t)?;
            if (self.l1 > 0.0 || self.l2 > 0.0) && penalized(p) {
                let w = p.host();
                for (g, w) in g.iter_mut().zip(&w) {
                    *g += (self.l1 * w.signum() as f64 + 2.0 * self.l2 * *w as f64) as f32;
                }
            }
            norm_sq += crate::kernels::reduce::sum_of_squares(g);
        }
        let grad_norm = norm_sq.sqrt();
        if let Some(max) = self.clip {
            // As torch.nn.utils.clip_grad_norm_.
            let coef = max / (grad_norm + 1e-6);
            if coef < 1.0 {
                for p in params.list.iter().filter(|p| p.trainable) {
                    grads
                        .get_or_alloc_mut(&p.t)?
                        .iter_mut()
                        .for_each(|g| *g *= coef as f32);
                }
            }
        }
        let s = &self.spec;
        for p in params.list.iter_mut().filter(|p| p.trainable) {
            let g = grads.get_or_alloc_mut(&p.t)?;
            match s.kind {
                OptimizerKind::Sgd => {
                    let cfg = SgdConfig {
                        lr,
                        momentum: match (s.momentum, s.nesterov) {
                            (0.0, _) => None,
                            (m, true) => Some(Momentum::Nesterov(m)),
                            (m, false) => Some(Momentum::Classic(m)),
                        },
                        weight_decay: (s.weight_decay > 0.0)
                            .then_some(WeightDecay::L2(s.weight_decay)),
                    };
                    let v = self.state1.get_or_alloc_mut(&p.t)?;
                    cfg.try_update(&mut p.t, v, g)?;
                }
                OptimizerKind::Adam | OptimizerKind::AdamW => {
                    let wd = match s.kind {
                        _ if s.weight_decay == 0.0 => None,
                        OptimizerKind::AdamW => Some(WeightDecay::Decoupled(s.weight_decay)),
                        _ => Some(WeightDecay::L2(s.weight_decay)),
                    };
                    let cfg = AdamConfig {
                        lr,
                        betas: [s.beta1, s.beta2],
                        eps: s.eps,
                        weight_decay: wd,
                    };
                    let m = self.state1.get_or_alloc_mut(&p.t)?;
                    let v = self.state2.get_or_alloc_mut(&p.t)?;
                    cfg.try_update(self.steps, &mut p.t, m, v, g)?;
                }
                OptimizerKind::RmsProp | OptimizerKind::Adagrad | OptimizerKind::Adadelta => {
                    let mut w = p.host();
                    let a = self.state1.get_or_alloc_mut(&p.t)?;
                    let b = self.state2.get_or_alloc_mut(&p.t)?;
                    host_update(s, lr, &mut w, g, a, b);
                    p.t.copy_from(&w);
                }
            }
        }
        Ok(StepStats { grad_norm })
    }
}

/// The optimizers dfdx lacks, element by element as PyTorch defines them.
fn host_update(s: &OptimizerSpec, lr: f64, w: &mut [f32], g: &[f32], a: &mut [f32], b: &mut [f32]) {
    let (lr, eps, wd) = (lr as f32, s.eps as f32, s.weight_decay as f32);
    for i in 0..w.len() {
        let grad = g[i] + wd * w[i];
        match s.kind {
            OptimizerKind::RmsProp => {
                let alpha = s.alpha as f32;
                a[i] = alpha * a[i] + (1.0 - alpha) * grad * grad;
                let step = grad / (a[i].sqrt() + eps);
                if s.momentum > 0.0 {
                    b[i] = s.momentum as f32 * b[i] + step;
                    w[i] -= lr * b[i];
                } else {
                    w[i] -= lr * step;
                }
            }
            OptimizerKind::Adagrad => {
                a[i] += grad * grad;
                w[i] -= lr * grad / (a[i].sqrt() + eps);
            }
            OptimizerKind::Adadelta => {
                let rho = s.rho as f32;
                a[i] = rho * a[i] + (1.0 - rho) * grad * grad;
                let delta = (b[i] + eps).sqrt() / (a[i] + eps).sqrt() * grad;
                b[i] = rho * b[i] + (1.0 - rho) * delta * delta;
                w[i] -= lr * delta;
            }
            _ => unreachable!("dfdx updates the others"),
        }
    }
}

/// The learning rate at a fractional epoch: linear warm-up, then the
/// schedule over the remaining epochs.
pub fn learning_rate(train: &TrainSpec, epoch: f64) -> f64 {
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

impl Optimizer {
    /// The state slots as named tensors, for checkpoints.
    pub fn export(&mut self, params: &Params) -> Result<Vec<(String, Vec<f32>)>, DevError> {
        let mut out = Vec::new();
        for p in params.list.iter().filter(|p| p.trainable) {
            out.push((
                format!("optim.state1.{}", p.name),
                self.state1.get_or_alloc_mut(&p.t)?.to_vec(),
            ));
            out.push((
                format!("optim.state2.{}", p.name),
                self.state2.get_or_alloc_mut(&p.t)?.to_vec(),
            ));
        }
        Ok(out)
    }

    /// Restores state slots saved by [`Optimizer::export`].
    pub fn import(
        &mut self,
        params: &Params,
        get: impl Fn(&str) -> Option<Vec<f32>>,
        steps: i32,
    ) -> Result<(), DevError> {
        for p in params.list.iter().filter(|p| p.trainable) {
            for (slot, state) in [("state1", &mut self.state1), ("state2", &mut self.state2)] {
                if let Some(v) = get(&format!("optim.{slot}.{}", p.name)) {
                    let buf = state.get_or_alloc_mut(&p.t)?;
                    if buf.len() == v.len() {
                        buf.copy_from_slice(&v);
                    }
                }
            }
        }
        self.steps = steps;
        Ok(())
    }
}
