//! Optimizer updates on the GPU, one kernel per rule, each the CPU
//! backend's arithmetic element by element (dfdx's for SGD and Adam,
//! PyTorch's definitions for the others). The slots stay on the GPU;
//! checkpoints download them.

use dlwb_dsl::experiment::OptimizerKind;

use super::{elements, int, launch, Cuda, DevBuf};
use crate::backend::ops::{Update, UpdateOps};
use crate::backend::{Result, Storage};

/// One parameter's optimizer state: two buffers of its length.
pub(crate) struct Slots {
    first: DevBuf,
    second: DevBuf,
}

impl UpdateOps for Cuda {
    type Slots = Slots;

    fn slots(&self, len: usize) -> Result<Slots> {
        Ok(Slots {
            first: self.zeros(len)?,
            second: self.zeros(len)?,
        })
    }

    fn export_slots(&self, s: &Slots) -> Result<[Vec<f32>; 2]> {
        Ok([self.download(&s.first)?, self.download(&s.second)?])
    }

    fn import_slots(&self, s: &mut Slots, values: [Option<Vec<f32>>; 2]) -> Result<()> {
        let [a, b] = values;
        for (slot, v) in [(&mut s.first, a), (&mut s.second, b)] {
            if let Some(v) = v.filter(|v| v.len() == slot.len) {
                Storage::write(self, slot, &v)?;
            }
        }
        Ok(())
    }

    fn penalize(&self, g: &mut DevBuf, w: &DevBuf, l1: f64, l2: f64) -> Result<()> {
        let n = int(g.len);
        let gm = Cuda::writable(self, g)?;
        launch!(
            self,
            "penalize",
            elements(n as usize),
            gm,
            w.slice(),
            &n,
            &l1,
            &l2
        )
    }

    fn update(&self, u: Update<'_>, w: &mut DevBuf, g: &mut DevBuf, s: &mut Slots) -> Result<()> {
        let r = u.rule;
        let n = int(w.len);
        let cfg = elements(w.len);
        let (lr, wd, eps) = (u.lr as f32, r.weight_decay as f32, r.eps as f32);
        let (wm, a, b) = (
            Cuda::writable(self, w)?,
            Cuda::writable(self, &mut s.first)?,
            Cuda::writable(self, &mut s.second)?,
        );
        let g = g.slice();
        match r.kind {
            OptimizerKind::Sgd => {
                let (momentum, nesterov) = (r.momentum as f32, i32::from(r.nesterov));
                launch!(self, "sgd", cfg, wm, g, a, &n, &lr, &wd, &momentum, &nesterov)
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let decoupled = i32::from(r.kind == OptimizerKind::AdamW);
                let (b1, b2) = (r.beta1 as f32, r.beta2 as f32);
                // The bias corrections' reciprocals, as dfdx takes them.
                let c1 = (1.0 - b1.powi(u.step)).recip();
                let c2 = (1.0 - b2.powi(u.step)).recip();
                launch!(
                    self, "adam", cfg, wm, g, a, b, &n, &lr, &b1, &b2, &eps, &wd, &decoupled, &c1,
                    &c2
                )
            }
            OptimizerKind::RmsProp => {
                let (alpha, momentum) = (r.alpha as f32, r.momentum as f32);
                launch!(self, "rmsprop", cfg, wm, g, a, b, &n, &lr, &alpha, &eps, &wd, &momentum)
            }
            OptimizerKind::Adagrad => launch!(self, "adagrad", cfg, wm, g, a, &n, &lr, &eps, &wd),
            OptimizerKind::Adadelta => {
                let rho = r.rho as f32;
                launch!(self, "adadelta", cfg, wm, g, a, b, &n, &lr, &rho, &eps, &wd)
            }
        }
    }
}
