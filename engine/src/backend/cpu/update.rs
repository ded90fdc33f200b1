//! Optimizer updates. SGD (momentum, Nesterov), Adam and AdamW run dfdx's
//! update kernels, whose arithmetic is PyTorch's; RMSprop, Adagrad and
//! Adadelta are written here to PyTorch's definitions (Adagrad: Duchi et
//! al. 2011; Adadelta: Zeiler 2012; RMSprop: Hinton's lecture 6e).

use std::sync::Arc;

use dfdx::optim::{Momentum, WeightDecay};
use dfdx::tensor::{Storage as _, TensorFromVec};
use dfdx::tensor_ops::{AdamConfig, SgdConfig};
use dlwb_dsl::experiment::{OptimizerKind, OptimizerSpec};

use super::{write, Cpu, HostBuf};
use crate::backend::ops::{Update, UpdateOps};
use crate::backend::{Error, Result};

/// dfdx's CPU storage, which its update kernels take.
type DfdxVec = <dfdx::tensor::Cpu as dfdx::tensor::Storage<f32>>::Vec;

/// One parameter's optimizer state in dfdx's storage.
pub(crate) struct Slots {
    first: DfdxVec,
    second: DfdxVec,
    /// Where a gradient's contents are swapped in (not copied) for
    /// dfdx's kernels, and swapped back out after.
    grad: DfdxVec,
}

fn dfdx_error(e: dfdx::tensor::CpuError) -> Error {
    match e {
        dfdx::tensor::CpuError::OutOfMemory => Error::OutOfMemory { device: "CPU" },
        other => Error::Device {
            device: "CPU",
            why: format!("{other:?}"),
        },
    }
}

impl UpdateOps for Cpu {
    type Slots = Slots;

    fn slots(&self, len: usize) -> Result<Slots> {
        let alloc = || self.dfdx.try_alloc_len(len).map_err(dfdx_error);
        Ok(Slots {
            first: alloc()?,
            second: alloc()?,
            grad: self.dfdx.try_alloc_len(0).map_err(dfdx_error)?,
        })
    }

    fn export_slots(&self, s: &Slots) -> Result<[Vec<f32>; 2]> {
        Ok([s.first.to_vec(), s.second.to_vec()])
    }

    fn import_slots(&self, s: &mut Slots, values: [Option<Vec<f32>>; 2]) -> Result<()> {
        let [a, b] = values;
        for (slot, v) in [(&mut s.first, a), (&mut s.second, b)] {
            if let Some(v) = v.filter(|v| v.len() == slot.len()) {
                slot.copy_from_slice(&v);
            }
        }
        Ok(())
    }

    fn penalize(&self, g: &mut HostBuf, w: &HostBuf, l1: f64, l2: f64) -> Result<()> {
        for (g, w) in write(g).iter_mut().zip(w.iter()) {
            *g += (l1 * w.signum() as f64 + 2.0 * l2 * *w as f64) as f32;
        }
        Ok(())
    }

    fn update(&self, u: Update<'_>, w: &mut HostBuf, g: &mut HostBuf, s: &mut Slots) -> Result<()> {
        match u.rule.kind {
            OptimizerKind::Sgd | OptimizerKind::Adam | OptimizerKind::AdamW => {
                self.dfdx_update(u, w, g, s)
            }
            OptimizerKind::RmsProp | OptimizerKind::Adagrad | OptimizerKind::Adadelta => {
                host_update(u.rule, u.lr, write(w), g, &mut s.first, &mut s.second);
                Ok(())
            }
        }
    }
}

impl Cpu {
    /// SGD or Adam through dfdx. The weights move into a dfdx tensor (no
    /// copy) and are copied back out after: one copy per step, where
    /// dfdx's kernels want a tensor and the other kernels want a slice.
    fn dfdx_update(
        &self,
        u: Update<'_>,
        w: &mut HostBuf,
        g: &mut HostBuf,
        s: &mut Slots,
    ) -> Result<()> {
        let weights = std::mem::take(Arc::make_mut(w));
        let len = weights.len();
        let mut t = self.dfdx.tensor_from_vec(weights, (len,));
        std::mem::swap(&mut *s.grad, Arc::make_mut(g));
        let done = match u.rule.kind {
            OptimizerKind::Sgd => sgd(u).try_update(&mut t, &mut s.first, &s.grad),
            _ => adam(u).try_update(u.step, &mut t, &mut s.first, &mut s.second, &s.grad),
        };
        std::mem::swap(&mut *s.grad, Arc::make_mut(g));
        // Back out even after a failure: the weights are never lost.
        let mut back = vec![0.0; len];
        t.copy_into(&mut back);
        *w = Arc::new(back);
        done.map_err(dfdx_error)
    }
}

fn sgd(u: Update<'_>) -> SgdConfig {
    let s = u.rule;
    SgdConfig {
        lr: u.lr,
        momentum: match (s.momentum, s.nesterov) {
            (0.0, _) => None,
            (m, true) => Some(Momentum::Nesterov(m)),
            (m, false) => Some(Momentum::Classic(m)),
        },
        weight_decay: (s.weight_decay > 0.0).then_some(WeightDecay::L2(s.weight_decay)),
    }
}

fn adam(u: Update<'_>) -> AdamConfig {
    let s = u.rule;
    let weight_decay = match s.kind {
        _ if s.weight_decay == 0.0 => None,
        OptimizerKind::AdamW => Some(WeightDecay::Decoupled(s.weight_decay)),
        _ => Some(WeightDecay::L2(s.weight_decay)),
    };
    AdamConfig {
        lr: u.lr,
        betas: [s.beta1, s.beta2],
        eps: s.eps,
        weight_decay,
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
