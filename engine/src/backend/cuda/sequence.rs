//! Embeddings, recurrent layers and final steps. A recurrent layer runs as
//! the CPU's does: the input side of every step in one cuBLAS product,
//! then per step one product for the hidden side and one fused kernel for
//! the cell's gates; backward mirrors it, with the weight gradients as
//! products over all steps after the loop.

use cudarc::driver::CudaSlice;
use dlwb_dsl::experiment::Cell;

use super::{elements, groups, int, launch, plain, transposed, Cuda, DevBuf, Mat};
use crate::backend::ops::{CellGrads, CellPrepared, CellWeights, SequenceOps};
use crate::backend::{Result, Storage};
use crate::kernels::matmul::Out;
use crate::kernels::recurrent::Dims;

/// Token ids on the GPU, and how many.
pub(crate) struct DevIds {
    ids: CudaSlice<u32>,
    len: usize,
}

/// What a recurrent backward needs: states time-major `[T + 1, B, H]`
/// (`h[0] = 0`), LSTM's cell states likewise, the activated gates of every
/// step `[T, B, G]`, GRU's `W_hn h + b_hn` per step `[T, B, H]`.
pub(crate) struct Saved {
    hs: DevBuf,
    cs: DevBuf,
    gates: DevBuf,
    hn: DevBuf,
}

/// The dimensions every step kernel takes: batch, steps, hidden.
fn bth(d: Dims) -> (i32, i32, i32) {
    (int(d.batch), int(d.steps), int(d.hidden))
}

/// Rows `from..from + rows` of a matrix `width` wide, as a product operand.
fn rows_of(b: &DevBuf, from: usize, rows: usize, width: usize) -> Mat<'_> {
    Mat {
        buf: b.slice().slice(from * width..(from + rows) * width),
        transposed: false,
    }
}

impl Cuda {
    /// The input side of every step, `[B * T, G]`, biases included.
    fn input_side(
        &self,
        cell: Cell,
        d: Dims,
        x: &DevBuf,
        w: &CellWeights<'_, Self>,
    ) -> Result<DevBuf> {
        let g = cell.gates() * d.hidden;
        // Both biases ride on the input side but GRU's b_hn, which the reset
        // gate multiplies.
        let summed = if cell == Cell::Gru { 2 * d.hidden } else { g };
        let mut bias = self.alloc(g)?;
        let (gi, si) = (int(g), int(summed));
        let bm = self.writable(&mut bias)?;
        launch!(
            self,
            "recurrent_bias",
            elements(g),
            w.b_ih.slice(),
            w.b_hh.slice(),
            bm,
            &gi,
            &si
        )?;
        let rows = d.batch * d.steps;
        let mut xw = self.alloc(rows * g)?;
        let n = int(rows * g);
        let xm = self.writable(&mut xw)?;
        launch!(
            self,
            "fill_rows",
            elements(rows * g),
            xm,
            bias.slice(),
            &n,
            &gi
        )?;
        self.gemm(
            self.writable(&mut xw)?,
            (plain(x), transposed(w.w_ih)),
            (rows, d.input, g),
            Out::Accumulate,
        )?;
        Ok(xw)
    }

    /// Step `t`'s cell kernel, from the input side of every step `xw` and
    /// this step's hidden side `hw`; its gates kept in `slot`.
    fn step(
        &self,
        cell: Cell,
        d: Dims,
        (xw, hw): (&DevBuf, &DevBuf),
        s: &mut Saved,
        b_hh: &DevBuf,
        (t, slot): (usize, usize),
    ) -> Result<()> {
        let (b, steps, h) = bth(d);
        let (t, slot) = (int(t), int(slot));
        let cfg = elements(d.batch * d.hidden);
        let hs = self.writable(&mut s.hs)?;
        match cell {
            Cell::Rnn => launch!(
                self,
                "rnn_step",
                cfg,
                xw.slice(),
                hw.slice(),
                hs,
                &b,
                &steps,
                &h,
                &t
            ),
            Cell::Lstm => {
                let (gates, cs) = (self.writable(&mut s.gates)?, self.writable(&mut s.cs)?);
                launch!(
                    self,
                    "lstm_step",
                    cfg,
                    xw.slice(),
                    hw.slice(),
                    gates,
                    cs,
                    hs,
                    &b,
                    &steps,
                    &h,
                    &t,
                    &slot
                )
            }
            Cell::Gru => {
                let (gates, hn) = (self.writable(&mut s.gates)?, self.writable(&mut s.hn)?);
                let b_hn = b_hh.slice().slice(2 * d.hidden..);
                launch!(
                    self,
                    "gru_step",
                    cfg,
                    xw.slice(),
                    hw.slice(),
                    &b_hn,
                    gates,
                    hn,
                    hs,
                    &b,
                    &steps,
                    &h,
                    &t,
                    &slot
                )
            }
        }
    }

    /// One step's cell backward: this step's rows of `dgx` and `dgh`.
    #[allow(clippy::too_many_arguments)]
    fn step_backward(
        &self,
        cell: Cell,
        d: Dims,
        s: &Saved,
        gy: &DevBuf,
        dh_next: &DevBuf,
        dc: &mut DevBuf,
        (dgx, dgh): (&mut DevBuf, &mut DevBuf),
        t: usize,
    ) -> Result<()> {
        let (b, steps, h) = bth(d);
        let t = int(t);
        let cfg = elements(d.batch * d.hidden);
        let (x, hm) = (self.writable(dgx)?, self.writable(dgh)?);
        let (gy, dn) = (gy.slice(), dh_next.slice());
        match cell {
            Cell::Rnn => launch!(
                self,
                "rnn_step_backward",
                cfg,
                gy,
                dn,
                s.hs.slice(),
                x,
                hm,
                &b,
                &steps,
                &h,
                &t
            ),
            Cell::Lstm => {
                let dc = self.writable(dc)?;
                launch!(
                    self,
                    "lstm_step_backward",
                    cfg,
                    gy,
                    dn,
                    s.gates.slice(),
                    s.cs.slice(),
                    dc,
                    x,
                    hm,
                    &b,
                    &steps,
                    &h,
                    &t
                )
            }
            Cell::Gru => {
                let direct = self.writable(dc)?;
                launch!(
                    self,
                    "gru_step_backward",
                    cfg,
                    gy,
                    dn,
                    s.gates.slice(),
                    s.hs.slice(),
                    s.hn.slice(),
                    direct,
                    x,
                    hm,
                    &b,
                    &steps,
                    &h,
                    &t
                )
            }
        }
    }
}

impl SequenceOps for Cuda {
    type Ids = DevIds;
    type Saved = Saved;

    fn upload_ids(&self, ids: &[u32]) -> Result<DevIds> {
        Ok(DevIds {
            ids: self.upload_typed(ids)?,
            len: ids.len(),
        })
    }

    fn gather(&self, table: &DevBuf, ids: &DevIds, dim: usize) -> Result<DevBuf> {
        let mut y = self.alloc(ids.len * dim)?;
        let (count, d) = (int(ids.len), int(dim));
        let ym = self.writable(&mut y)?;
        launch!(
            self,
            "gather_rows",
            elements(ids.len * dim),
            table.slice(),
            &ids.ids,
            ym,
            &count,
            &d
        )?;
        Ok(y)
    }

    fn scatter_add(&self, table: &mut DevBuf, ids: &DevIds, gy: &DevBuf, dim: usize) -> Result<()> {
        let (count, d) = (int(ids.len), int(dim));
        let t = self.writable(table)?;
        launch!(
            self,
            "scatter_add_rows",
            elements(dim),
            t,
            &ids.ids,
            gy.slice(),
            &count,
            &d
        )
    }

    fn recurrent(
        &self,
        cell: Cell,
        d: Dims,
        x: &DevBuf,
        w: &CellWeights<'_, Self>,
        _: &CellPrepared<'_, Self>,
        keep: bool,
    ) -> Result<(DevBuf, Option<Saved>)> {
        let (b, h, g) = (d.batch, d.hidden, cell.gates() * d.hidden);
        // Without a backward pass to come, one step's gates are enough.
        let kept = if keep { d.steps } else { 1 };
        let xw = self.input_side(cell, d, x, w)?;
        let states = (d.steps + 1) * b * h;
        let only = |c: Cell, len: usize| self.zeros(if cell == c { len } else { 0 });
        let mut s = Saved {
            hs: self.zeros(states)?,
            cs: only(Cell::Lstm, states)?,
            gates: self.zeros(if cell == Cell::Rnn { 0 } else { kept * b * g })?,
            hn: only(Cell::Gru, kept * b * h)?,
        };
        let mut hw = self.alloc(b * g)?;
        for t in 0..d.steps {
            let h_prev = rows_of(&s.hs, t * b, b, h);
            self.gemm(
                self.writable(&mut hw)?,
                (h_prev, transposed(w.w_hh)),
                (b, h, g),
                Out::Overwrite,
            )?;
            self.step(cell, d, (&xw, &hw), &mut s, w.b_hh, (t, t % kept))?;
        }
        let mut out = self.alloc(b * d.steps * h)?;
        let (bi, steps, hi) = bth(d);
        let o = self.writable(&mut out)?;
        launch!(
            self,
            "states_to_output",
            elements(b * d.steps * h),
            s.hs.slice(),
            o,
            &bi,
            &steps,
            &hi
        )?;
        Ok((out, keep.then_some(s)))
    }

    fn recurrent_backward(
        &self,
        cell: Cell,
        d: Dims,
        x: &DevBuf,
        w: &CellWeights<'_, Self>,
        s: &Saved,
        gy: &DevBuf,
        grads: CellGrads<'_, Self>,
        want_dx: bool,
    ) -> Result<Option<DevBuf>> {
        let (b, h, g) = (d.batch, d.hidden, cell.gates() * d.hidden);
        let rows = b * d.steps;
        let (mut dgx, mut dgh) = (self.alloc(rows * g)?, self.alloc(rows * g)?);
        let (mut dh_next, mut dc) = (self.zeros(b * h)?, self.zeros(b * h)?);
        for t in (0..d.steps).rev() {
            self.step_backward(cell, d, s, gy, &dh_next, &mut dc, (&mut dgx, &mut dgh), t)?;
            // The gradient of h_{t-1} is needed before the next step.
            let dgh_t = rows_of(&dgh, t * b, b, g);
            self.gemm(
                self.writable(&mut dh_next)?,
                (dgh_t, plain(w.w_hh)),
                (b, g, h),
                Out::Overwrite,
            )?;
            if cell == Cell::Gru {
                self.add_assign(&mut dh_next, &dc)?;
            }
        }
        // Hidden side, all steps at once: h[0..T] are the previous states.
        let h_prev = rows_of(&s.hs, 0, rows, h);
        self.gemm(
            self.writable(grads.w_hh)?,
            (transposed(&dgh), h_prev),
            (g, rows, h),
            Out::Accumulate,
        )?;
        self.gemm(
            self.writable(grads.w_ih)?,
            (transposed(&dgx), plain(x)),
            (g, rows, d.input),
            Out::Accumulate,
        )?;
        let (r, gi) = (int(rows), int(g));
        let bi = self.writable(grads.b_ih)?;
        launch!(self, "column_sums", groups(g), bi, dgx.slice(), &r, &gi)?;
        let bh = self.writable(grads.b_hh)?;
        launch!(self, "column_sums", groups(g), bh, dgh.slice(), &r, &gi)?;
        if !want_dx {
            return Ok(None);
        }
        let mut dx = self.alloc(rows * d.input)?;
        self.gemm(
            self.writable(&mut dx)?,
            (plain(&dgx), plain(w.w_ih)),
            (rows, g, d.input),
            Out::Overwrite,
        )?;
        Ok(Some(dx))
    }

    fn last_step(&self, x: &DevBuf, batch: usize, steps: usize) -> Result<DevBuf> {
        let f = x.len / (batch * steps).max(1);
        let mut y = self.alloc(batch * f)?;
        let (b, t, fi) = (int(batch), int(steps), int(f));
        let ym = self.writable(&mut y)?;
        launch!(
            self,
            "last_step",
            elements(batch * f),
            x.slice(),
            ym,
            &b,
            &t,
            &fi
        )?;
        Ok(y)
    }

    fn last_step_backward(&self, gy: &DevBuf, batch: usize, steps: usize) -> Result<DevBuf> {
        let f = gy.len / batch.max(1);
        let mut dx = self.zeros(batch * steps * f)?;
        let (b, t, fi) = (int(batch), int(steps), int(f));
        let d = self.writable(&mut dx)?;
        launch!(
            self,
            "last_step_backward",
            elements(batch * f),
            gy.slice(),
            d,
            &b,
            &t,
            &fi
        )?;
        Ok(dx)
    }
}
