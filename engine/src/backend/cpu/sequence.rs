//! Token embeddings, recurrent cells over whole sequences, and final steps.

use std::sync::Arc;

use dlwb_dsl::experiment::Cell;

use super::{write, Cpu, HostBuf};
use crate::backend::ops::{CellGrads, CellPrepared, CellWeights, SequenceOps};
use crate::backend::Result;
use crate::kernels::recurrent::{self as rec, Dims, Saved};

fn weights<'a>(w: &'a CellWeights<'_, Cpu>) -> rec::Weights<'a> {
    rec::Weights {
        w_ih: w.w_ih,
        w_hh: w.w_hh,
        b_ih: w.b_ih,
        b_hh: w.b_hh,
    }
}

impl SequenceOps for Cpu {
    type Ids = Arc<Vec<u32>>;
    type Saved = Saved;

    fn upload_ids(&self, ids: &[u32]) -> Result<Self::Ids> {
        Ok(Arc::new(ids.to_vec()))
    }

    fn gather(&self, table: &HostBuf, ids: &Self::Ids, dim: usize) -> Result<HostBuf> {
        let mut y = Vec::with_capacity(ids.len() * dim);
        for &id in ids.iter() {
            y.extend_from_slice(&table[id as usize * dim..][..dim]);
        }
        Ok(Arc::new(y))
    }

    fn scatter_add(
        &self,
        table: &mut HostBuf,
        ids: &Self::Ids,
        gy: &HostBuf,
        dim: usize,
    ) -> Result<()> {
        let dw = write(table);
        for (k, &id) in ids.iter().enumerate() {
            dw[id as usize * dim..][..dim]
                .iter_mut()
                .zip(&gy[k * dim..][..dim])
                .for_each(|(d, g)| *d += g);
        }
        Ok(())
    }

    fn recurrent(
        &self,
        cell: Cell,
        d: Dims,
        x: &HostBuf,
        w: &CellWeights<'_, Self>,
        wt: &CellPrepared<'_, Self>,
        keep: bool,
    ) -> Result<(HostBuf, Option<Saved>)> {
        let wt = rec::Transposed {
            w_ih: wt.w_ih,
            w_hh: wt.w_hh,
        };
        let (out, saved) = rec::forward(cell, d, x, &weights(w), &wt, keep);
        Ok((Arc::new(out), saved))
    }

    fn recurrent_backward(
        &self,
        cell: Cell,
        d: Dims,
        x: &HostBuf,
        w: &CellWeights<'_, Self>,
        saved: &Saved,
        gy: &HostBuf,
        g: CellGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<HostBuf>> {
        let mut dx = want_dx.then(|| vec![0.0; d.batch * d.steps * d.input]);
        let grads = rec::Grads {
            w_ih: write(g.w_ih),
            w_hh: write(g.w_hh),
            b_ih: write(g.b_ih),
            b_hh: write(g.b_hh),
        };
        rec::backward(cell, d, x, &weights(w), saved, gy, grads, dx.as_deref_mut());
        Ok(dx.map(Arc::new))
    }

    fn last_step(&self, x: &HostBuf, batch: usize, steps: usize) -> Result<HostBuf> {
        let f = x.len() / (batch * steps).max(1);
        Ok(Arc::new(
            (0..batch)
                .flat_map(|b| x[(b * steps + steps - 1) * f..][..f].to_vec())
                .collect(),
        ))
    }

    fn last_step_backward(&self, gy: &HostBuf, batch: usize, steps: usize) -> Result<HostBuf> {
        let f = gy.len() / batch.max(1);
        let mut dx = vec![0.0; batch * steps * f];
        for b in 0..batch {
            dx[(b * steps + steps - 1) * f..][..f].copy_from_slice(&gy[b * f..][..f]);
        }
        Ok(Arc::new(dx))
    }
}
