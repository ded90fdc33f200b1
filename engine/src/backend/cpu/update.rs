//! Optimizer updates. SGD (momentum, Nesterov), Adam and AdamW run dfdx's
//! update kernels, whose arithmetic is PyTorch's; RMSprop, Adagrad and
//! Adadelta are written here to PyTorch's definitions (Adagrad: Duchi et
//! al. 2011; Adadelta: Zeiler 2012; RMSprop: Hinton's lecture 6e).
//!
//! A large parameter's update is cut into chunks that run on the kernels'
//! threads: every rule is elementwise, so each element gets the same bits
//! whatever the cut. Each chunk keeps its own dfdx tensor and slots from
//! step to step, so a step copies its weights in and out and allocates
//! nothing (it was the largest piece of an MLP's step left on one thread).

use std::ops::Range;

use dfdx::optim::{Momentum, WeightDecay};
use dfdx::tensor::{Storage as _, Tensor, TensorFromVec};
use dfdx::tensor_ops::{AdamConfig, SgdConfig};
use dlwb_dsl::experiment::{OptimizerKind, OptimizerSpec};

use super::{write, Cpu, HostBuf};
use crate::backend::ops::{Update, UpdateOps};
use crate::backend::{Error, Result};

/// dfdx's CPU storage, which its update kernels take.
type DfdxVec = <dfdx::tensor::Cpu as dfdx::tensor::Storage<f32>>::Vec;

/// One parameter's optimizer state, in chunks of its elements.
pub(crate) struct Slots {
    chunks: Vec<Chunk>,
}

/// A run of a parameter's elements and its state, in dfdx's storage.
struct Chunk {
    range: Range<usize>,
    first: DfdxVec,
    second: DfdxVec,
    /// The gradient's elements, copied in for dfdx's kernels.
    grad: DfdxVec,
    /// The weights' elements as the tensor dfdx's kernels update.
    weights: Tensor<(usize,), f32, dfdx::tensor::Cpu>,
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

/// Where a parameter of `len` elements is cut: one chunk per thread, as
/// its gradient is zeroed and summed (below `PARAMETER_SHARE` elements
/// one thread's share is too short to pay for handing it over).
fn cuts(len: usize) -> Vec<Range<usize>> {
    crate::kernels::parts::parameter_ranges(len)
}

impl UpdateOps for Cpu {
    type Slots = Slots;

    fn slots(&self, len: usize) -> Result<Slots> {
        self.slots_in(cuts(len))
    }

    fn export_slots(&self, s: &Slots) -> Result<[Vec<f32>; 2]> {
        let joined = |f: fn(&Chunk) -> &DfdxVec| {
            s.chunks.iter().flat_map(|c| f(c).iter().copied()).collect()
        };
        Ok([joined(|c| &c.first), joined(|c| &c.second)])
    }

    fn import_slots(&self, s: &mut Slots, values: [Option<Vec<f32>>; 2]) -> Result<()> {
        let len = s.chunks.last().map_or(0, |c| c.range.end);
        let [a, b] = values.map(|v| v.filter(|v| v.len() == len));
        for c in &mut s.chunks {
            for (slot, v) in [(&mut c.first, &a), (&mut c.second, &b)] {
                if let Some(v) = v {
                    slot.copy_from_slice(&v[c.range.clone()]);
                }
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
        let (w, g) = (write(w), &g[..]);
        // Each chunk with its own elements of the weights and gradient.
        let mut rest = w;
        let mut work = Vec::with_capacity(s.chunks.len());
        for c in &mut s.chunks {
            let (mine, after) = std::mem::take(&mut rest).split_at_mut(c.range.len());
            rest = after;
            let grad = &g[c.range.clone()];
            work.push((c, mine, grad));
        }
        let done = crate::kernels::workers::map(work, |(c, w, g)| c.update(u, w, g));
        done.into_iter().collect()
    }
}

impl Cpu {
    /// Slots for the elements `cuts` covers, one chunk per range.
    fn slots_in(&self, cuts: Vec<Range<usize>>) -> Result<Slots> {
        let alloc = |n| self.dfdx.try_alloc_len(n).map_err(dfdx_error);
        let chunks = cuts
            .into_iter()
            .map(|range| {
                let n = range.len();
                Ok(Chunk {
                    first: alloc(n)?,
                    second: alloc(n)?,
                    grad: alloc(n)?,
                    weights: self.dfdx.tensor_from_vec(vec![0.0; n], (n,)),
                    range,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Slots { chunks })
    }
}

impl Chunk {
    fn update(&mut self, u: Update<'_>, w: &mut [f32], g: &[f32]) -> Result<()> {
        match u.rule.kind {
            OptimizerKind::Sgd | OptimizerKind::Adam | OptimizerKind::AdamW => {
                self.weights.copy_from(w);
                self.grad.copy_from_slice(g);
                let t = &mut self.weights;
                let done = match u.rule.kind {
                    OptimizerKind::Sgd => sgd(u).try_update(t, &mut self.first, &self.grad),
                    _ => {
                        adam(u).try_update(u.step, t, &mut self.first, &mut self.second, &self.grad)
                    }
                };
                // Back out even after a failure: the weights are never lost.
                self.weights.copy_into(w);
                done.map_err(dfdx_error)
            }
            OptimizerKind::RmsProp | OptimizerKind::Adagrad | OptimizerKind::Adadelta => {
                host_update(u.rule, u.lr, w, g, &mut self.first, &mut self.second);
                Ok(())
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Storage;
    use crate::kernels::parts::PARAMETER_SHARE;
    use dlwb_dsl::experiment::OptimizerSpec;

    /// `len` elements cut into `parts` ranges, whatever the thread count.
    fn cut_in(len: usize, parts: usize) -> Vec<Range<usize>> {
        (0..parts)
            .map(|j| j * len / parts..(j + 1) * len / parts)
            .collect()
    }

    /// Every rule is elementwise: a parameter updated in chunks (on the
    /// kernels' threads) takes the same bits as one updated whole.
    #[test]
    fn a_chunked_update_gives_the_bits_of_a_whole_one() {
        let cpu = Cpu::default();
        let len = 3 * PARAMETER_SHARE + 17;
        let wave = |f: f32| -> Vec<f32> { (0..len).map(|i| (i as f32 * f).sin()).collect() };
        for kind in [
            OptimizerKind::Sgd,
            OptimizerKind::Adam,
            OptimizerKind::AdamW,
            OptimizerKind::RmsProp,
            OptimizerKind::Adagrad,
            OptimizerKind::Adadelta,
        ] {
            let rule = OptimizerSpec {
                kind,
                lr: 0.01,
                momentum: if kind == OptimizerKind::Sgd { 0.9 } else { 0.0 },
                nesterov: false,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                alpha: 0.99,
                rho: 0.9,
            };
            let run = |parts: usize| {
                let mut slots = cpu.slots_in(cut_in(len, parts)).unwrap();
                let mut w = cpu.upload(wave(0.37)).unwrap();
                for step in 1..=3 {
                    let mut g = cpu.upload(wave(0.11 * step as f32)).unwrap();
                    let u = Update {
                        rule: &rule,
                        step,
                        lr: rule.lr,
                    };
                    cpu.update(u, &mut w, &mut g, &mut slots).unwrap();
                }
                (w.to_vec(), cpu.export_slots(&slots).unwrap())
            };
            let whole = run(1);
            for parts in [2, 3] {
                assert!(run(parts) == whole, "{kind:?} in {parts} chunks");
            }
        }
    }
}
