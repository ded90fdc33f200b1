//! Recurrent cells over a whole sequence: the input side of every step in
//! one matrix product, then one small product per step for the hidden side.
//! Gate orders and equations are PyTorch's (LSTM: i, f, g, o; GRU: r, z, n).

use dlwb_dsl::experiment::Cell;

use super::fastmath as fm;
use super::matmul::{mat, mat_t, matmul, transpose};

#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub batch: usize,
    pub steps: usize,
    pub input: usize,
    pub hidden: usize,
}

/// What the backward pass needs, kept from the forward pass.
pub struct Saved {
    /// Hidden states, time-major `[T + 1, B, H]`, `h[0] = 0`.
    pub h: Vec<f32>,
    /// LSTM: cell states `[T + 1, B, H]`. Empty otherwise.
    pub c: Vec<f32>,
    /// Activated gates `[T, B, G * H]` (LSTM, GRU).
    pub gates: Vec<f32>,
    /// GRU: `W_hn h + b_hn` per step `[T, B, H]`.
    pub hn: Vec<f32>,
}

pub struct Weights<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
    pub b_ih: &'a [f32],
    pub b_hh: &'a [f32],
}

/// Runs the sequence `x` (`[B, T, F]`); returns every hidden state as
/// `[B, T, H]` and what backward needs.
pub fn forward(cell: Cell, d: Dims, x: &[f32], w: &Weights<'_>) -> (Vec<f32>, Saved) {
    let (b, t_len, h) = (d.batch, d.steps, d.hidden);
    let g = cell.gates() * h;
    // Input side for all steps, rows (b, t).
    let mut xw = vec![0.0; b * t_len * g];
    for r in xw.chunks_mut(g) {
        r.copy_from_slice(w.b_ih);
    }
    matmul(&mut xw, mat(x), mat_t(w.w_ih), b * t_len, d.input, g, true);

    let mut hs = vec![0.0; (t_len + 1) * b * h];
    let mut cs = if cell == Cell::Lstm {
        vec![0.0; (t_len + 1) * b * h]
    } else {
        Vec::new()
    };
    let mut gates = if cell == Cell::Rnn {
        Vec::new()
    } else {
        vec![0.0; t_len * b * g]
    };
    let mut hn_all = if cell == Cell::Gru {
        vec![0.0; t_len * b * h]
    } else {
        Vec::new()
    };
    let mut hw = vec![0.0; b * g];
    // W_hh transposed once, so every step's product is row-major (the form
    // the AVX-512 kernel in matmul.rs takes).
    let w_hh_t = transpose(w.w_hh, g, h);
    for t in 0..t_len {
        let (prev, rest) = hs.split_at_mut((t + 1) * b * h);
        let h_prev = &prev[t * b * h..];
        let h_next = &mut rest[..b * h];
        for r in hw.chunks_mut(g) {
            r.copy_from_slice(w.b_hh);
        }
        matmul(&mut hw, mat(h_prev), mat(&w_hh_t), b, h, g, true);
        for bi in 0..b {
            let xg = &xw[(bi * t_len + t) * g..][..g];
            let hg = &hw[bi * g..][..g];
            let hp = &h_prev[bi * h..][..h];
            let out = &mut h_next[bi * h..][..h];
            match cell {
                Cell::Rnn => {
                    for j in 0..h {
                        out[j] = xg[j] + hg[j];
                    }
                    fm::tanh_slice(out);
                }
                Cell::Lstm => {
                    let gt = &mut gates[(t * b + bi) * g..][..g];
                    for j in 0..g {
                        gt[j] = xg[j] + hg[j];
                    }
                    fm::sigmoid_slice(&mut gt[..2 * h]);
                    fm::tanh_slice(&mut gt[2 * h..3 * h]);
                    fm::sigmoid_slice(&mut gt[3 * h..]);
                    let (c_before, c_after) = cs.split_at_mut((t + 1) * b * h);
                    let c_prev = &c_before[(t * b + bi) * h..][..h];
                    let c_next = &mut c_after[bi * h..][..h];
                    let (i, rest) = gt.split_at(h);
                    let (f, rest) = rest.split_at(h);
                    let (gg, o) = rest.split_at(h);
                    for j in 0..h {
                        c_next[j] = f[j] * c_prev[j] + i[j] * gg[j];
                        out[j] = o[j] * fm::tanh(c_next[j]);
                    }
                }
                Cell::Gru => {
                    let gt = &mut gates[(t * b + bi) * g..][..g];
                    let hn_t = &mut hn_all[(t * b + bi) * h..][..h];
                    for j in 0..2 * h {
                        gt[j] = xg[j] + hg[j];
                    }
                    fm::sigmoid_slice(&mut gt[..2 * h]);
                    hn_t.copy_from_slice(&hg[2 * h..]);
                    let (rz, n) = gt.split_at_mut(2 * h);
                    for j in 0..h {
                        n[j] = xg[2 * h + j] + rz[j] * hn_t[j];
                    }
                    fm::tanh_slice(n);
                    for j in 0..h {
                        let z = rz[h + j];
                        out[j] = (1.0 - z) * n[j] + z * hp[j];
                    }
                }
            }
        }
    }
    // Time-major states to the batch-major output.
    let mut out = vec![0.0; b * t_len * h];
    for t in 0..t_len {
        for bi in 0..b {
            out[(bi * t_len + t) * h..][..h].copy_from_slice(&hs[((t + 1) * b + bi) * h..][..h]);
        }
    }
    (
        out,
        Saved {
            h: hs,
            c: cs,
            gates,
            hn: hn_all,
        },
    )
}

pub struct Grads<'a> {
    pub w_ih: &'a mut [f32],
    pub w_hh: &'a mut [f32],
    pub b_ih: &'a mut [f32],
    pub b_hh: &'a mut [f32],
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
    let (b, t_len, h) = (d.batch, d.steps, d.hidden);
    let g = cell.gates() * h;
    let mut dgx = vec![0.0; b * t_len * g];
    let mut dh_next = vec![0.0; b * h];
    let mut dc_next = vec![0.0; b * h];
    // Hidden-side gate gradients of every step, time-major [T, B, G]: the
    // weight gradient is one product over all steps after the loop, since
    // the previous hidden states are stored time-major too.
    let mut dgh_all = vec![0.0; t_len * b * g];
    for t in (0..t_len).rev() {
        let h_prev = &s.h[t * b * h..][..b * h];
        let h_cur = &s.h[(t + 1) * b * h..][..b * h];
        for bi in 0..b {
            let dgx_row = &mut dgx[(bi * t_len + t) * g..][..g];
            let dgh_row = &mut dgh_all[(t * b + bi) * g..][..g];
            let gy_row = &gy[(bi * t_len + t) * h..][..h];
            let dhn = &dh_next[bi * h..][..h];
            match cell {
                Cell::Rnn => {
                    let hc = &h_cur[bi * h..][..h];
                    for j in 0..h {
                        let dpre = (gy_row[j] + dhn[j]) * (1.0 - hc[j] * hc[j]);
                        dgx_row[j] = dpre;
                        dgh_row[j] = dpre;
                    }
                }
                Cell::Lstm => {
                    let gt = &s.gates[(t * b + bi) * g..][..g];
                    let c = &s.c[((t + 1) * b + bi) * h..][..h];
                    let c_prev = &s.c[(t * b + bi) * h..][..h];
                    let dcn = &mut dc_next[bi * h..][..h];
                    for j in 0..h {
                        let dh = gy_row[j] + dhn[j];
                        let (i, f, gg, o) = (gt[j], gt[h + j], gt[2 * h + j], gt[3 * h + j]);
                        let tc = fm::tanh(c[j]);
                        let dc = dh * o * (1.0 - tc * tc) + dcn[j];
                        dcn[j] = dc * f;
                        dgx_row[j] = dc * gg * i * (1.0 - i);
                        dgx_row[h + j] = dc * c_prev[j] * f * (1.0 - f);
                        dgx_row[2 * h + j] = dc * i * (1.0 - gg * gg);
                        dgx_row[3 * h + j] = dh * tc * o * (1.0 - o);
                    }
                    dgh_row.copy_from_slice(dgx_row);
                }
                Cell::Gru => {
                    let gt = &s.gates[(t * b + bi) * g..][..g];
                    let hp = &h_prev[bi * h..][..h];
                    let hn = &s.hn[(t * b + bi) * h..][..h];
                    let direct = &mut dc_next[bi * h..][..h];
                    for j in 0..h {
                        let dh = gy_row[j] + dhn[j];
                        let (r, z, n) = (gt[j], gt[h + j], gt[2 * h + j]);
                        let dn_pre = dh * (1.0 - z) * (1.0 - n * n);
                        let dz_pre = dh * (hp[j] - n) * z * (1.0 - z);
                        let dr_pre = dn_pre * hn[j] * r * (1.0 - r);
                        dgx_row[j] = dr_pre;
                        dgx_row[h + j] = dz_pre;
                        dgx_row[2 * h + j] = dn_pre;
                        dgh_row[j] = dr_pre;
                        dgh_row[h + j] = dz_pre;
                        dgh_row[2 * h + j] = dn_pre * r;
                        // The direct path h' = ... + z * h.
                        direct[j] = dh * z;
                    }
                }
            }
        }
        // The gradient of h_{t-1} is needed before the next step.
        let dgh = &dgh_all[t * b * g..][..b * g];
        matmul(&mut dh_next, mat(dgh), mat(w.w_hh), b, g, h, false);
        if cell == Cell::Gru {
            for (d, v) in dh_next.iter_mut().zip(&dc_next) {
                *d += v;
            }
        }
    }
    let rows = b * t_len;
    // Hidden side, all steps at once: h[0..T] are the previous states.
    matmul(
        gw.w_hh,
        mat_t(&dgh_all),
        mat(&s.h[..rows * h]),
        g,
        rows,
        h,
        true,
    );
    for r in dgh_all.chunks(g) {
        for (d, v) in gw.b_hh.iter_mut().zip(r) {
            *d += v;
        }
    }
    matmul(gw.w_ih, mat_t(&dgx), mat(x), g, rows, d.input, true);
    for r in dgx.chunks(g) {
        for (d, v) in gw.b_ih.iter_mut().zip(r) {
            *d += v;
        }
    }
    if let Some(dx) = dx {
        matmul(dx, mat(&dgx), mat(w.w_ih), rows, g, d.input, true);
    }
}
