//! Recurrent cells over a whole sequence: the input side of every step in
//! one matrix product, then one small product per step for the hidden side.
//! Gate orders and equations are PyTorch's (LSTM: i, f, g, o; GRU: r, z, n).

use dlwb_dsl::experiment::Cell;

use super::activation::sigmoid;
use super::matmul::{mat, mat_t, matmul};

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
    for t in 0..t_len {
        let (prev, rest) = hs.split_at_mut((t + 1) * b * h);
        let h_prev = &prev[t * b * h..];
        let h_next = &mut rest[..b * h];
        for r in hw.chunks_mut(g) {
            r.copy_from_slice(w.b_hh);
        }
        matmul(&mut hw, mat(h_prev), mat_t(w.w_hh), b, h, g, true);
        for bi in 0..b {
            let xg = &xw[(bi * t_len + t) * g..][..g];
            let hg = &hw[bi * g..][..g];
            let hp = &h_prev[bi * h..][..h];
            let hn_out = &mut h_next[bi * h..][..h];
            match cell {
                Cell::Rnn => {
                    for j in 0..h {
                        hn_out[j] = (xg[j] + hg[j]).tanh();
                    }
                }
                Cell::Lstm => {
                    let gt = &mut gates[(t * b + bi) * g..][..g];
                    let c_prev = &cs[(t * b + bi) * h..][..h].to_vec();
                    let c_next = &mut cs[((t + 1) * b + bi) * h..][..h];
                    for j in 0..h {
                        let i = sigmoid(xg[j] + hg[j]);
                        let f = sigmoid(xg[h + j] + hg[h + j]);
                        let gg = (xg[2 * h + j] + hg[2 * h + j]).tanh();
                        let o = sigmoid(xg[3 * h + j] + hg[3 * h + j]);
                        let c = f * c_prev[j] + i * gg;
                        c_next[j] = c;
                        hn_out[j] = o * c.tanh();
                        gt[j] = i;
                        gt[h + j] = f;
                        gt[2 * h + j] = gg;
                        gt[3 * h + j] = o;
                    }
                }
                Cell::Gru => {
                    let gt = &mut gates[(t * b + bi) * g..][..g];
                    let hn_t = &mut hn_all[(t * b + bi) * h..][..h];
                    for j in 0..h {
                        let r = sigmoid(xg[j] + hg[j]);
                        let z = sigmoid(xg[h + j] + hg[h + j]);
                        hn_t[j] = hg[2 * h + j];
                        let n = (xg[2 * h + j] + r * hg[2 * h + j]).tanh();
                        hn_out[j] = (1.0 - z) * n + z * hp[j];
                        gt[j] = r;
                        gt[h + j] = z;
                        gt[2 * h + j] = n;
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
    let mut dgh = vec![0.0; b * g];
    for t in (0..t_len).rev() {
        let h_prev = &s.h[t * b * h..][..b * h];
        let h_cur = &s.h[(t + 1) * b * h..][..b * h];
        for bi in 0..b {
            let dgx_row = &mut dgx[(bi * t_len + t) * g..][..g];
            let dgh_row = &mut dgh[bi * g..][..g];
            for j in 0..h {
                let dh = gy[(bi * t_len + t) * h + j] + dh_next[bi * h + j];
                match cell {
                    Cell::Rnn => {
                        let hv = h_cur[bi * h + j];
                        let dpre = dh * (1.0 - hv * hv);
                        dgx_row[j] = dpre;
                        dgh_row[j] = dpre;
                    }
                    Cell::Lstm => {
                        let gt = &s.gates[(t * b + bi) * g..][..g];
                        let (i, f, gg, o) = (gt[j], gt[h + j], gt[2 * h + j], gt[3 * h + j]);
                        let c = s.c[((t + 1) * b + bi) * h + j];
                        let c_prev = s.c[(t * b + bi) * h + j];
                        let tc = c.tanh();
                        let dc = dh * o * (1.0 - tc * tc) + dc_next[bi * h + j];
                        dc_next[bi * h + j] = dc * f;
                        let pre = [
                            dc * gg * i * (1.0 - i),
                            dc * c_prev * f * (1.0 - f),
                            dc * i * (1.0 - gg * gg),
                            dh * tc * o * (1.0 - o),
                        ];
                        for (k, v) in pre.into_iter().enumerate() {
                            dgx_row[k * h + j] = v;
                            dgh_row[k * h + j] = v;
                        }
                    }
                    Cell::Gru => {
                        let gt = &s.gates[(t * b + bi) * g..][..g];
                        let (r, z, n) = (gt[j], gt[h + j], gt[2 * h + j]);
                        let hp = h_prev[bi * h + j];
                        let hn = s.hn[(t * b + bi) * h + j];
                        let dn_pre = dh * (1.0 - z) * (1.0 - n * n);
                        let dz_pre = dh * (hp - n) * z * (1.0 - z);
                        let dr_pre = dn_pre * hn * r * (1.0 - r);
                        dgx_row[j] = dr_pre;
                        dgx_row[h + j] = dz_pre;
                        dgx_row[2 * h + j] = dn_pre;
                        dgh_row[j] = dr_pre;
                        dgh_row[h + j] = dz_pre;
                        dgh_row[2 * h + j] = dn_pre * r;
                        // The direct path h' = ... + z * h.
                        dc_next[bi * h + j] = dh * z;
                    }
                }
            }
        }
        // Hidden side: weights, bias, and the gradient of h_{t-1}.
        matmul(gw.w_hh, mat_t(&dgh), mat(h_prev), g, b, h, true);
        for r in dgh.chunks(g) {
            for (d, v) in gw.b_hh.iter_mut().zip(r) {
                *d += v;
            }
        }
        matmul(&mut dh_next, mat(&dgh), mat(w.w_hh), b, g, h, false);
        if cell == Cell::Gru {
            for (d, v) in dh_next.iter_mut().zip(&dc_next) {
                *d += v;
            }
        }
    }
    let rows = b * t_len;
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
