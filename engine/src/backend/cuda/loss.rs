//! Losses on the GPU: each kernel writes a term per row (or element) and a
//! correct flag per row, and `loss_totals` adds them there, so a step
//! downloads two numbers. The targets go up with each batch.

use cudarc::driver::CudaSlice;
use dlwb_dsl::experiment::Loss;

use super::{driver_error, elements, int, launch, Cuda, DevBuf};
use crate::backend::ops::{LossOps, LossValue, Objective};
use crate::backend::Result;
use crate::data::Targets;

/// Where a loss kernel writes: the gradient, a term per row or element,
/// a correct flag per row.
struct Outputs {
    grad: DevBuf,
    terms: CudaSlice<f64>,
    flags: CudaSlice<i32>,
}

impl Cuda {
    fn outputs(&self, len: usize, terms: usize, rows: usize) -> Result<Outputs> {
        // SAFETY: each loss kernel writes every element it is given.
        let terms = unsafe { self.stream.alloc::<f64>(terms.max(1)) }
            .map_err(|e| driver_error("allocating", e))?;
        let flags = self
            .stream
            .alloc_zeros::<i32>(rows.max(1))
            .map_err(|e| driver_error("allocating", e))?;
        Ok(Outputs {
            grad: self.alloc(len)?,
            terms,
            flags,
        })
    }

    /// The sum of the terms and of the flags, downloaded.
    fn totals(&self, o: &Outputs, terms: usize, rows: usize) -> Result<(f64, usize)> {
        let mut totals = self
            .stream
            .alloc_zeros::<f64>(2)
            .map_err(|e| driver_error("allocating", e))?;
        let (n, r) = (int(terms), int(rows));
        let one = cudarc::driver::LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1024, 1, 1),
            shared_mem_bytes: 0,
        };
        launch!(
            self,
            "loss_totals",
            one,
            &o.terms,
            &n,
            &o.flags,
            &r,
            &mut totals
        )?;
        let t = self.download_typed(&totals, 2)?;
        Ok((t[0], t[1] as usize))
    }

    /// Cross-entropy, or distillation against `teacher`, over rows of classes.
    fn softmax_loss(
        &self,
        y: &DevBuf,
        t: &[u32],
        teacher: Option<(&DevBuf, f64, f64)>,
    ) -> Result<LossValue<Self>> {
        let rows = t.len();
        let k = y.len / rows.max(1);
        let labels = self.upload_typed(t)?;
        let mut o = self.outputs(y.len, rows, rows)?;
        let (r, ki) = (int(rows), int(k));
        let g = self.writable(&mut o.grad)?;
        match teacher {
            None => launch!(
                self,
                "cross_entropy",
                elements(rows),
                y.slice(),
                &labels,
                g,
                &mut o.terms,
                &mut o.flags,
                &r,
                &ki
            )?,
            Some((te, temp, alpha)) => {
                let (temp, alpha) = (temp as f32, alpha as f32);
                launch!(
                    self,
                    "distill",
                    elements(rows),
                    y.slice(),
                    te.slice(),
                    &labels,
                    g,
                    &mut o.terms,
                    &mut o.flags,
                    &r,
                    &ki,
                    &temp,
                    &alpha
                )?
            }
        }
        let (total, correct) = self.totals(&o, rows, rows)?;
        Ok(LossValue {
            value: (total / rows as f64) as f32,
            grad: o.grad,
            correct,
            count: rows,
        })
    }

    /// Mean squared error or binary cross-entropy, elementwise, against
    /// values or classes (one-hot, or one logit per sample).
    fn elementwise_loss(
        &self,
        kind: Loss,
        y: &DevBuf,
        targets: &Targets,
    ) -> Result<LossValue<Self>> {
        // Rows of classes to count correct predictions over (none for values).
        let (values, classes, rows) = match targets {
            Targets::Values(v) => (Some(self.upload_typed(v)?), None, 0),
            Targets::Classes(c) | Targets::Tokens(c) => {
                (None, Some(self.upload_typed(c)?), c.len())
            }
        };
        let k = y.len.checked_div(rows).unwrap_or(1);
        let mut o = self.outputs(y.len, y.len, rows)?;
        let (n, ki, r) = (int(y.len), int(k), int(rows));
        let (vp, cp) = (
            self.address(values.as_ref()),
            self.address(classes.as_ref()),
        );
        let g = self.writable(&mut o.grad)?;
        match kind {
            Loss::Mse => launch!(
                self,
                "mse",
                elements(y.len),
                y.slice(),
                &vp,
                &cp,
                g,
                &mut o.terms,
                &n,
                &ki
            )?,
            _ => launch!(
                self,
                "bce",
                elements(y.len),
                y.slice(),
                &cp,
                g,
                &mut o.terms,
                &n,
                &ki
            )?,
        }
        if let Some(c) = &classes {
            launch!(
                self,
                "hits",
                elements(rows),
                y.slice(),
                c,
                &mut o.flags,
                &r,
                &ki
            )?;
        }
        let (total, correct) = self.totals(&o, y.len, rows)?;
        Ok(LossValue {
            value: (total / y.len.max(1) as f64) as f32,
            grad: o.grad,
            correct,
            count: rows,
        })
    }
}

impl LossOps for Cuda {
    fn loss(
        &self,
        objective: &Objective<'_, Self>,
        y: &DevBuf,
        targets: &Targets,
    ) -> Result<LossValue<Self>> {
        match (*objective, targets) {
            (
                Objective::Distill {
                    teacher,
                    temperature,
                    alpha,
                },
                Targets::Classes(t) | Targets::Tokens(t),
            ) => self.softmax_loss(y, t, Some((teacher, temperature, alpha))),
            (Objective::Loss(Loss::CrossEntropy), Targets::Classes(t) | Targets::Tokens(t)) => {
                self.softmax_loss(y, t, None)
            }
            (Objective::Loss(kind @ (Loss::Mse | Loss::Bce)), t) => {
                self.elementwise_loss(kind, y, t)
            }
            (_, t) => unreachable!("checked: the loss does not pair with {t:?}"),
        }
    }
}
