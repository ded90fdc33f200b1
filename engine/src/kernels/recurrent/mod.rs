//! Recurrent cells over a whole sequence: the input side of every step in
//! one matrix product, then one small product per step for the hidden side.
//! Gate orders and equations are PyTorch's (LSTM: i, f, g, o; GRU: r, z, n).
//!
//! The rows of a batch never meet inside a recurrent layer, so the batch is
//! cut into parts that run their whole sequence on threads of their own:
//! one fork per layer call rather than one per step. Each part's weight
//! gradients are summed in part order, so a given thread count gives the
//! same bits every run.

mod cells;

use dlwb_dsl::experiment::Cell;

use super::matmul::{mat, mat_t, matmul, Out, Prepared};
use super::scratch::{self, Buffer};
use super::{parts, workers};
use cells::{
    gru_cell, gru_cell_backward, lstm_cell, lstm_cell_backward, rnn_cell, rnn_cell_backward,
};

#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub batch: usize,
    pub steps: usize,
    pub input: usize,
    pub hidden: usize,
}

impl Dims {
    /// The same sequence for `rows` rows of the batch.
    fn rows(self, rows: usize) -> Self {
        Dims {
            batch: rows,
            ..self
        }
    }
}

/// Fewest rows worth a thread of their own: below this the per-step
/// products are too thin to keep a core busy.
const ROWS_PER_PART: usize = 8;

/// What the backward pass needs, kept from the forward pass: one record
/// per part of the batch.
pub struct Saved {
    parts: Vec<Part>,
}

/// One part's record.
struct Part {
    rows: usize,
    /// Hidden states, time-major `[T + 1, rows, H]`, `h[0] = 0`.
    h: Buffer,
    /// LSTM: cell states `[T + 1, rows, H]`. Empty otherwise.
    c: Buffer,
    /// Activated gates `[T, rows, G * H]` (LSTM, GRU).
    gates: Buffer,
    /// GRU: `W_hn h + b_hn` per step `[T, rows, H]`.
    hn: Buffer,
}

impl Part {
    /// A record of `d.batch` rows for the forward pass to write, keeping
    /// the gates of `kept` steps (all of them for a backward pass, else
    /// one). Only the states before the first step are zeroed: the cells
    /// write every later state, gate and `W_hn h + b_hn`.
    fn new(cell: Cell, d: Dims, kept: usize) -> Part {
        let (b, h) = (d.batch, d.hidden);
        let states = |len: usize| {
            let mut s = scratch::overwritten(len);
            s[..b * h].fill(0.0);
            s
        };
        Part {
            rows: b,
            h: states((d.steps + 1) * b * h),
            c: match cell {
                Cell::Lstm => states((d.steps + 1) * b * h),
                _ => Buffer::default(),
            },
            gates: match cell {
                Cell::Rnn => Buffer::default(),
                _ => scratch::overwritten(kept * b * cell.gates() * h),
            },
            hn: match cell {
                Cell::Gru => scratch::overwritten(kept * b * h),
                _ => Buffer::default(),
            },
        }
    }
}

pub struct Weights<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

/// The weight matrices transposed and packed as right-hand sides, made once
/// per set of weights (so evaluation packs them once, not per batch).
pub struct Transposed<'a> {
    /// `W_ihᵀ`, `[F, G * H]`.
    pub w_ih: &'a Prepared,
    /// `W_hhᵀ`, `[H, G * H]`.
    pub w_hh: &'a Prepared,
}

/// Runs the sequence `x` (`[B, T, F]`); returns every hidden state as
/// `[B, T, H]` and, when `keep` (training), what backward needs.
pub fn forward(
    cell: Cell,
    d: Dims,
    x: &[f32],
    w: &Weights<'_>,
    wt: &Transposed<'_>,
    keep: bool,
) -> (Vec<f32>, Option<Saved>) {
    let rows = parts::rows(d.batch, ROWS_PER_PART);
    let (out, saved) = forward_in_parts(cell, d, x, w, wt, &rows, keep);
    (out, keep.then_some(saved))
}

/// [`forward`] with the batch cut into parts of `rows` rows (backward
/// follows the same cut).
fn forward_in_parts(
    cell: Cell,
    d: Dims,
    x: &[f32],
    w: &Weights<'_>,
    wt: &Transposed<'_>,
    rows: &[usize],
    keep: bool,
) -> (Vec<f32>, Saved) {
    let (t_len, h) = (d.steps, d.hidden);
    let g = cell.gates() * h;
    // The hidden side's biases ride on the input side, except GRU's b_hn,
    // which the reset gate multiplies.
    let mut bias = w.b_ih.to_vec();
    let summed = if cell == Cell::Gru { 2 * h } else { g };
    bias[..summed]
        .iter_mut()
        .zip(w.b_hh)
        .for_each(|(b, c)| *b += c);
    // Each part zeroes and writes its own rows of the output: a serial
    // memset here, read back by the other thread, cost more than the copy.
    let jobs = parts::chunks(x, rows, t_len * d.input)
        .into_iter()
        .zip(rows)
        .collect();
    let (out, parts) = parts::filled_with(rows, t_len * h, jobs, |(x, &r), out| {
        forward_part(cell, d.rows(r), x, w, wt, &bias, out, keep)
    });
    (out, Saved { parts })
}

#[allow(clippy::too_many_arguments)]
fn forward_part(
    cell: Cell,
    d: Dims,
    x: &[f32],
    w: &Weights<'_>,
    wt: &Transposed<'_>,
    bias: &[f32],
    out: &mut [f32],
    keep: bool,
) -> Part {
    let (b, t_len, h) = (d.batch, d.steps, d.hidden);
    // Without a backward pass to come, one step's gates are enough.
    let kept = if keep { t_len } else { 1 };
    let g = cell.gates() * h;
    // Input side for all steps, rows (b, t).
    let mut xw = scratch::overwritten(b * t_len * g);
    for r in xw.chunks_mut(g) {
        r.copy_from_slice(bias);
    }
    wt.w_ih.product(&mut xw, mat(x), b * t_len, Out::Accumulate);

    let Part {
        h: mut hs,
        c: mut cs,
        mut gates,
        hn: mut hn_all,
        ..
    } = Part::new(cell, d, kept);
    let b_hn = if cell == Cell::Gru {
        &w.b_hh[2 * h..]
    } else {
        &[]
    };
    let mut hw = scratch::zeroed(b * g);
    for t in 0..t_len {
        let (prev, rest) = hs.split_at_mut((t + 1) * b * h);
        let h_prev = &prev[t * b * h..];
        let h_next = &mut rest[..b * h];
        wt.w_hh.product(&mut hw, mat(h_prev), b, Out::Overwrite);
        let slot = t % kept;
        for bi in 0..b {
            let xg = &xw[(bi * t_len + t) * g..][..g];
            let hg = &hw[bi * g..][..g];
            let next = &mut h_next[bi * h..][..h];
            match cell {
                Cell::Rnn => rnn_cell(xg, hg, next),
                Cell::Lstm => {
                    let (c_before, c_after) = cs.split_at_mut((t + 1) * b * h);
                    lstm_cell(
                        xg,
                        hg,
                        &mut gates[(slot * b + bi) * g..][..g],
                        &c_before[(t * b + bi) * h..][..h],
                        &mut c_after[bi * h..][..h],
                        next,
                    );
                }
                Cell::Gru => gru_cell(
                    xg,
                    hg,
                    b_hn,
                    &mut gates[(slot * b + bi) * g..][..g],
                    &mut hn_all[(slot * b + bi) * h..][..h],
                    &h_prev[bi * h..][..h],
                    next,
                ),
            }
        }
    }
    // Time-major states to the batch-major output.
    for t in 0..t_len {
        for bi in 0..b {
            out[(bi * t_len + t) * h..][..h].copy_from_slice(&hs[((t + 1) * b + bi) * h..][..h]);
        }
    }
    Part {
        rows: b,
        h: hs,
        c: cs,
        gates,
        hn: hn_all,
    }
}

pub struct Grads<'a> {
    pub w_ih: &'a mut [f32],
    pub w_hh: &'a mut [f32],
    pub b_ih: &'a mut [f32],
    pub b_hh: &'a mut [f32],
}

/// One part's weight gradients, before they are summed.
struct PartGrads {
    w_ih: Buffer,
    w_hh: Buffer,
    b_ih: Vec<f32>,
    b_hh: Vec<f32>,
}

/// Backpropagation through time. `gy` is the gradient of every output
/// (`[B, T, H]`); accumulates into the weight gradients and `dx`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    cell: Cell,
    d: Dims,
    x: &[f32],
    w: &Weights<'_>,
    s: &Saved,
    gy: &[f32],
    gw: Grads<'_>,
    dx: Option<&mut [f32]>,
) {
    let g = cell.gates() * d.hidden;
    let w_hh = Prepared::new(mat(w.w_hh), g, d.hidden);
    let rows: Vec<usize> = s.parts.iter().map(|p| p.rows).collect();
    let width = d.steps * d.input;
    let dx_parts = parts::optional_chunks_mut(dx, &rows, width);
    let jobs = s
        .parts
        .iter()
        .zip(parts::chunks(x, &rows, width))
        .zip(parts::chunks(gy, &rows, d.steps * d.hidden))
        .zip(dx_parts)
        .collect();
    let grads: Vec<PartGrads> = workers::map(jobs, |(((part, x), gy), dx)| {
        backward_part(cell, d.rows(part.rows), x, w, &w_hh, part, gy, dx)
    });
    let each = |of: fn(&PartGrads) -> &[f32]| grads.iter().map(of).collect::<Vec<_>>();
    parts::add_all_into(gw.w_ih, &each(|p| &p.w_ih[..]));
    parts::add_all_into(gw.w_hh, &each(|p| &p.w_hh[..]));
    parts::add_all_into(gw.b_ih, &each(|p| &p.b_ih[..]));
    parts::add_all_into(gw.b_hh, &each(|p| &p.b_hh[..]));
}

#[allow(clippy::too_many_arguments)]
fn backward_part(
    cell: Cell,
    d: Dims,
    x: &[f32],
    w: &Weights<'_>,
    w_hh: &Prepared,
    s: &Part,
    gy: &[f32],
    dx: Option<&mut [f32]>,
) -> PartGrads {
    let (dgx, dgh_all) = gate_gradients(cell, d, w_hh, s, gy);
    let (b, t_len, h) = (d.batch, d.steps, d.hidden);
    let g = cell.gates() * h;
    let rows = b * t_len;
    let mut grads = PartGrads {
        // Both products below overwrite them.
        w_ih: scratch::overwritten(g * d.input),
        w_hh: scratch::overwritten(g * h),
        b_ih: column_sums(&dgx, g),
        b_hh: column_sums(&dgh_all, g),
    };
    // Hidden side, all steps at once: h[0..T] are the previous states.
    matmul(
        &mut grads.w_hh,
        mat_t(&dgh_all),
        mat(&s.h[..rows * h]),
        g,
        rows,
        h,
        Out::Overwrite,
    );
    matmul(
        &mut grads.w_ih,
        mat_t(&dgx),
        mat(x),
        g,
        rows,
        d.input,
        Out::Overwrite,
    );
    if let Some(dx) = dx {
        matmul(
            dx,
            mat(&dgx),
            mat(w.w_ih),
            rows,
            g,
            d.input,
            Out::Accumulate,
        );
    }
    grads
}

/// Backpropagation through the steps of one part: the gradients of every
/// step's input-side gates (`[B, T, G]`) and hidden-side gates
/// (time-major `[T, B, G]`, so that the weight gradient is one product
/// over all steps after the loop: the previous hidden states are stored
/// time-major too).
fn gate_gradients(cell: Cell, d: Dims, w_hh: &Prepared, s: &Part, gy: &[f32]) -> (Buffer, Buffer) {
    let (b, t_len, h) = (d.batch, d.steps, d.hidden);
    let g = cell.gates() * h;
    // Every step writes its rows of both.
    let mut dgx = scratch::overwritten(b * t_len * g);
    let mut dh_next = scratch::zeroed(b * h);
    let mut dc_next = scratch::zeroed(b * h);
    let mut dgh_all = scratch::overwritten(t_len * b * g);
    for t in (0..t_len).rev() {
        let h_prev = &s.h[t * b * h..][..b * h];
        let h_cur = &s.h[(t + 1) * b * h..][..b * h];
        for bi in 0..b {
            let dgx_row = &mut dgx[(bi * t_len + t) * g..][..g];
            let dgh_row = &mut dgh_all[(t * b + bi) * g..][..g];
            let gy_row = &gy[(bi * t_len + t) * h..][..h];
            let dhn = &dh_next[bi * h..][..h];
            match cell {
                Cell::Rnn => rnn_cell_backward(gy_row, dhn, &h_cur[bi * h..][..h], dgx_row),
                Cell::Lstm => lstm_cell_backward(
                    gy_row,
                    dhn,
                    &s.gates[(t * b + bi) * g..][..g],
                    &s.c[((t + 1) * b + bi) * h..][..h],
                    &s.c[(t * b + bi) * h..][..h],
                    &mut dc_next[bi * h..][..h],
                    dgx_row,
                ),
                Cell::Gru => gru_cell_backward(
                    gy_row,
                    dhn,
                    &s.gates[(t * b + bi) * g..][..g],
                    &h_prev[bi * h..][..h],
                    &s.hn[(t * b + bi) * h..][..h],
                    &mut dc_next[bi * h..][..h],
                    dgx_row,
                    dgh_row,
                ),
            }
            if cell != Cell::Gru {
                dgh_row.copy_from_slice(dgx_row);
            }
        }
        // The gradient of h_{t-1} is needed before the next step.
        let dgh = &dgh_all[t * b * g..][..b * g];
        w_hh.product(&mut dh_next, mat(dgh), b, Out::Overwrite);
        if cell == Cell::Gru {
            for (d, v) in dh_next.iter_mut().zip(dc_next.iter()) {
                *d += v;
            }
        }
    }
    (dgx, dgh_all)
}

/// Sums of the columns of a row-major matrix `width` wide.
fn column_sums(m: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0.0; width];
    for r in m.chunks(width) {
        sums.iter_mut().zip(r).for_each(|(s, v)| *s += v);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect()
    }

    /// What one training pass of a cell gives: outputs, the four weight
    /// gradients, the input gradient.
    type Pass = (Vec<f32>, [Vec<f32>; 4], Vec<f32>);

    /// Forward and backward through `cell` with weights made from `seed`,
    /// the batch cut into parts of `rows`.
    fn pass(cell: Cell, d: Dims, seed: f32, rows: &[usize]) -> Pass {
        let g = cell.gates() * d.hidden;
        let (w_ih, w_hh) = (
            wave(g * d.input, 0.37 * seed),
            wave(g * d.hidden, 0.91 * seed),
        );
        let (b_ih, b_hh) = (wave(g, 1.3 * seed), wave(g, 2.1 * seed));
        let w = Weights {
            w_ih: &w_ih,
            w_hh: &w_hh,
            b_ih: &b_ih,
            b_hh: &b_hh,
        };
        let x = wave(d.batch * d.steps * d.input, 0.23 * seed);
        let gy = wave(d.batch * d.steps * d.hidden, 0.71 * seed);
        let [w_ih_t, w_hh_t] =
            [(&w_ih, d.input), (&w_hh, d.hidden)].map(|(m, k)| Prepared::new(mat_t(m), k, g));
        let wt = Transposed {
            w_ih: &w_ih_t,
            w_hh: &w_hh_t,
        };
        let (y, saved) = forward_in_parts(cell, d, &x, &w, &wt, rows, true);
        let mut grads: [Vec<f32>; 4] = [w_ih.len(), w_hh.len(), g, g].map(|n| vec![0.0; n]);
        let mut dx = vec![0.0; x.len()];
        let [g0, g1, g2, g3] = &mut grads;
        let to = Grads {
            w_ih: g0,
            w_hh: g1,
            b_ih: g2,
            b_hh: g3,
        };
        backward(cell, d, &x, &w, &saved, &gy, to, Some(&mut dx));
        (y, grads, dx)
    }

    /// A batch cut into parts gives what the whole batch gives: the same
    /// outputs, and the same gradients up to the order of their sums.
    #[test]
    fn parts_of_a_batch_match_the_whole() {
        let d = Dims {
            batch: 16,
            steps: 5,
            input: 3,
            hidden: 7,
        };
        for cell in [Cell::Rnn, Cell::Lstm, Cell::Gru] {
            let whole = pass(cell, d, 1.0, &[16]);
            for rows in [&[8, 8][..], &[5, 11], &[4, 4, 4, 4]] {
                let cut = pass(cell, d, 1.0, rows);
                assert_eq!(whole.0, cut.0, "{cell:?} outputs, parts {rows:?}");
                assert_eq!(whole.2, cut.2, "{cell:?} input gradient, parts {rows:?}");
                for (a, b) in whole.1.iter().flatten().zip(cut.1.iter().flatten()) {
                    assert!(
                        (a - b).abs() < 1e-5 * (1.0 + a.abs()),
                        "{cell:?} {rows:?}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// A pass reuses the buffers the one before it left (`scratch`), and
    /// writes every value of them it reads: with NaN in every kept buffer
    /// it gives the bits it gave before.
    #[test]
    fn a_pass_reads_no_value_it_did_not_write() {
        // Large enough for every buffer of a part to be kept and reused.
        let d = Dims {
            batch: 16,
            steps: 32,
            input: 8,
            hidden: 32,
        };
        for cell in [Cell::Rnn, Cell::Lstm, Cell::Gru] {
            for rows in [&[16][..], &[8, 8]] {
                let first = pass(cell, d, 1.0, rows);
                scratch::poison_kept();
                let again = pass(cell, d, 1.0, rows);
                assert!(again == first, "{cell:?} in parts {rows:?}");
            }
        }
    }
}
