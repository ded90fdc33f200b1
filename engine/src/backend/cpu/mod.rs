//! The CPU backend: buffers in host memory, the host kernels of
//! `crate::kernels`, and dfdx's CPU device for the SGD and Adam updates.
//! The only place the engine names dfdx.

mod conv;
mod linear;
mod norm;
mod sequence;
mod update;

use std::sync::{Arc, Mutex};

use super::ops::Objective;
use super::{Result, Storage};
use crate::kernels::loss as host_loss;
use crate::kernels::parts::PARAMETER_SHARE;

/// A host buffer. Shared by cloning; written through `Arc::make_mut`, which
/// copies only while a backward closure still holds the old contents.
pub(crate) type HostBuf = Arc<Vec<f32>>;

#[derive(Default)]
pub(crate) struct Cpu {
    /// dfdx's device, for its update kernels (its allocation cache stays
    /// off, as dfdx starts it).
    dfdx: dfdx::tensor::Cpu,
    /// Large buffers given back by [`Storage::recycle`], for `zeros`.
    spare: Mutex<Vec<Vec<f32>>>,
}

/// At most this many buffers are kept for reuse: more than a network
/// has weights, so a step's gradients all come back.
const SPARE_AT_MOST: usize = 256;

/// `b`'s contents to write to, copied first if anything else holds them.
fn write(b: &mut HostBuf) -> &mut [f32] {
    Arc::make_mut(b).as_mut_slice()
}

impl Cpu {
    /// A kept buffer of exactly `len` values (its contents stale).
    fn take_spare(&self, len: usize) -> Option<Vec<f32>> {
        let mut spare = self.spare.lock().ok()?;
        let at = spare.iter().position(|v| v.len() == len)?;
        Some(spare.swap_remove(at))
    }
}

impl Storage for Cpu {
    type Buf = HostBuf;

    const DEVICE: &'static str = "cpu";

    fn upload(&self, data: Vec<f32>) -> Result<HostBuf> {
        Ok(Arc::new(data))
    }

    fn upload_shared(&self, data: &HostBuf) -> Result<HostBuf> {
        Ok(data.clone())
    }

    fn download(&self, b: &HostBuf) -> Result<Vec<f32>> {
        Ok(b.to_vec())
    }

    fn zeros(&self, len: usize) -> Result<HostBuf> {
        // A large weight's gradient slot is zeroed every step, just before
        // a product that splits between threads: zeroing it in parts, on
        // the threads that then write it, takes that pass off one thread;
        // and last step's slot, warm in those threads' caches, is zeroed
        // faster than fresh memory.
        if len < 2 * PARAMETER_SHARE {
            return Ok(Arc::new(vec![0.0; len]));
        }
        let rows = crate::kernels::parts::rows(len, PARAMETER_SHARE);
        let Some(mut spare) = self.take_spare(len) else {
            let jobs = vec![(); rows.len()];
            let fresh = crate::kernels::parts::filled(&rows, 1, jobs, |(), _| {});
            return Ok(Arc::new(fresh));
        };
        let chunks = crate::kernels::parts::chunks_mut(&mut spare, &rows, 1);
        crate::kernels::workers::each(chunks, |c| c.fill(0.0));
        Ok(Arc::new(spare))
    }

    fn overwritable(&self, len: usize) -> Result<HostBuf> {
        match self.take_spare(len) {
            Some(spare) => Ok(Arc::new(spare)),
            None => self.zeros(len),
        }
    }

    fn recycle(&self, b: HostBuf) {
        if b.len() < 2 * PARAMETER_SHARE {
            return;
        }
        if let (Ok(v), Ok(mut spare)) = (Arc::try_unwrap(b), self.spare.lock()) {
            if spare.len() < SPARE_AT_MOST {
                spare.push(v);
            }
        }
    }

    fn len(&self, b: &HostBuf) -> usize {
        b.len()
    }

    fn write(&self, b: &mut HostBuf, data: &[f32]) -> Result<()> {
        write(b).copy_from_slice(data);
        Ok(())
    }

    fn add_assign(&self, into: &mut HostBuf, g: &HostBuf) -> Result<()> {
        write(into)
            .iter_mut()
            .zip(g.iter())
            .for_each(|(d, g)| *d += g);
        Ok(())
    }

    fn add(&self, a: &HostBuf, b: &HostBuf) -> Result<HostBuf> {
        Ok(Arc::new(
            a.iter().zip(b.iter()).map(|(a, b)| a + b).collect(),
        ))
    }

    fn mul(&self, a: &HostBuf, b: &HostBuf) -> Result<HostBuf> {
        Ok(Arc::new(
            a.iter().zip(b.iter()).map(|(a, b)| a * b).collect(),
        ))
    }

    fn scale(&self, a: &mut HostBuf, by: f32) -> Result<()> {
        write(a).iter_mut().for_each(|v| *v *= by);
        Ok(())
    }

    fn sum_of_squares(&self, a: &HostBuf) -> Result<f64> {
        Ok(crate::kernels::reduce::sum_of_squares(a))
    }
}

impl super::LossOps for Cpu {
    fn loss(
        &self,
        objective: &Objective<'_, Self>,
        y: &HostBuf,
        targets: &crate::data::Targets,
    ) -> Result<super::ops::LossValue<Self>> {
        let l = match *objective {
            Objective::Loss(kind) => host_loss::of(kind, y, targets),
            Objective::Distill {
                teacher,
                temperature,
                alpha,
            } => host_loss::distilled(y, teacher, targets, temperature, alpha),
        };
        Ok(super::ops::LossValue {
            value: l.value,
            grad: Arc::new(l.grad),
            correct: l.correct,
            count: l.count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recycled gradient comes back from `zeros` as zeros, in the same
    /// memory; one still shared elsewhere is not taken.
    #[test]
    fn zeros_reuses_a_recycled_buffer_zeroed() {
        let cpu = Cpu::default();
        let len = 3 * PARAMETER_SHARE + 1;
        let mut g = cpu.zeros(len).unwrap();
        write(&mut g).fill(7.0);
        let at = g.as_ptr();
        cpu.recycle(g);
        let again = cpu.zeros(len).unwrap();
        assert_eq!(again.as_ptr(), at, "the recycled buffer was not reused");
        assert!(again.len() == len && again.iter().all(|&v| v == 0.0));
        let held = again.clone();
        cpu.recycle(again);
        assert_ne!(cpu.zeros(len).unwrap().as_ptr(), held.as_ptr());
        assert!(
            held.iter().all(|&v| v == 0.0),
            "a shared buffer was handed out"
        );
    }
}
