//! The recurrent cells' arithmetic, forward and backward, for one step of
//! a part of the batch. Compiled for AVX-512 and AVX2 as well as the
//! portable baseline, and picked at run time: at the baseline's 4 lanes the
//! activations took a quarter of an LSTM's training step.

use multiversion::multiversion;
use multiversion::target::target_cfg;

use crate::kernels::fastmath as fm;

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn rnn_cell(xg: &[f32], hg: &[f32], out: &mut [f32]) {
    for ((o, x), hh) in out.iter_mut().zip(xg).zip(hg) {
        *o = fm::tanh(x + hh);
    }
}

/// Gates `[i, f, g, o]` from both sides, the next cell state and output.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn lstm_cell(
    xg: &[f32],
    hg: &[f32],
    gates: &mut [f32],
    c_prev: &[f32],
    c_next: &mut [f32],
    out: &mut [f32],
) {
    // Fused multiply-adds in the versions compiled for them.
    #[target_cfg(target_feature = "fma")]
    const FMA: bool = true;
    #[target_cfg(not(target_feature = "fma"))]
    const FMA: bool = false;
    let h = out.len();
    let (xg, hg, c_prev, c_next) = (&xg[..4 * h], &hg[..4 * h], &c_prev[..h], &mut c_next[..h]);
    let (gi, rest) = gates[..4 * h].split_at_mut(h);
    let (gf, rest) = rest.split_at_mut(h);
    let (gg, go) = rest.split_at_mut(h);
    for j in 0..h {
        let i = fm::sigmoid_with::<FMA>(xg[j] + hg[j]);
        let f = fm::sigmoid_with::<FMA>(xg[h + j] + hg[h + j]);
        let g = fm::tanh_with::<FMA>(xg[2 * h + j] + hg[2 * h + j]);
        let o = fm::sigmoid_with::<FMA>(xg[3 * h + j] + hg[3 * h + j]);
        let c = f * c_prev[j] + i * g;
        (gi[j], gf[j], gg[j], go[j]) = (i, f, g, o);
        c_next[j] = c;
        out[j] = o * fm::tanh_with::<FMA>(c);
    }
}

/// Gates `[r, z, n]`; `hg`'s n part lacks `b_hn`, added here.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn gru_cell(
    xg: &[f32],
    hg: &[f32],
    b_hn: &[f32],
    gates: &mut [f32],
    hn: &mut [f32],
    h_prev: &[f32],
    out: &mut [f32],
) {
    let h = out.len();
    let (xg, hg, b_hn, hn, h_prev) = (
        &xg[..3 * h],
        &hg[..3 * h],
        &b_hn[..h],
        &mut hn[..h],
        &h_prev[..h],
    );
    let (gr, rest) = gates[..3 * h].split_at_mut(h);
    let (gz, gn) = rest.split_at_mut(h);
    for j in 0..h {
        let r = fm::sigmoid(xg[j] + hg[j]);
        let z = fm::sigmoid(xg[h + j] + hg[h + j]);
        let hnj = hg[2 * h + j] + b_hn[j];
        let n = fm::tanh(xg[2 * h + j] + r * hnj);
        (gr[j], gz[j], gn[j], hn[j]) = (r, z, n, hnj);
        out[j] = (1.0 - z) * n + z * h_prev[j];
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn rnn_cell_backward(gy: &[f32], dh_next: &[f32], h: &[f32], dgx: &mut [f32]) {
    for (((d, g), n), hc) in dgx.iter_mut().zip(gy).zip(dh_next).zip(h) {
        *d = (g + n) * (1.0 - hc * hc);
    }
}

/// `dc` carries the cell state's gradient from step t + 1 in, and to step
/// t - 1 out.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn lstm_cell_backward(
    gy: &[f32],
    dh_next: &[f32],
    gates: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dc: &mut [f32],
    dgx: &mut [f32],
) {
    // Fused multiply-adds in the versions compiled for them.
    #[target_cfg(target_feature = "fma")]
    const FMA: bool = true;
    #[target_cfg(not(target_feature = "fma"))]
    const FMA: bool = false;
    let h = gy.len();
    let (dh_next, gates, c, c_prev, dc) = (
        &dh_next[..h],
        &gates[..4 * h],
        &c[..h],
        &c_prev[..h],
        &mut dc[..h],
    );
    let (di, rest) = dgx[..4 * h].split_at_mut(h);
    let (df, rest) = rest.split_at_mut(h);
    let (dg, d_o) = rest.split_at_mut(h);
    for j in 0..h {
        let dh = gy[j] + dh_next[j];
        let (i, f, gg, o) = (gates[j], gates[h + j], gates[2 * h + j], gates[3 * h + j]);
        let tc = fm::tanh_with::<FMA>(c[j]);
        let dcj = dh * o * (1.0 - tc * tc) + dc[j];
        dc[j] = dcj * f;
        di[j] = dcj * gg * i * (1.0 - i);
        df[j] = dcj * c_prev[j] * f * (1.0 - f);
        dg[j] = dcj * i * (1.0 - gg * gg);
        d_o[j] = dh * tc * o * (1.0 - o);
    }
}

/// `direct` receives the gradient of the path `h' = ... + z * h`.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub(super) fn gru_cell_backward(
    gy: &[f32],
    dh_next: &[f32],
    gates: &[f32],
    h_prev: &[f32],
    hn: &[f32],
    direct: &mut [f32],
    dgx: &mut [f32],
    dgh: &mut [f32],
) {
    let h = gy.len();
    let (dh_next, gates, h_prev, hn, direct) = (
        &dh_next[..h],
        &gates[..3 * h],
        &h_prev[..h],
        &hn[..h],
        &mut direct[..h],
    );
    let (xr, rest) = dgx[..3 * h].split_at_mut(h);
    let (xz, xn) = rest.split_at_mut(h);
    let (hr, rest) = dgh[..3 * h].split_at_mut(h);
    let (hz, hnn) = rest.split_at_mut(h);
    for j in 0..h {
        let dh = gy[j] + dh_next[j];
        let (r, z, n) = (gates[j], gates[h + j], gates[2 * h + j]);
        let dn_pre = dh * (1.0 - z) * (1.0 - n * n);
        let dz_pre = dh * (h_prev[j] - n) * z * (1.0 - z);
        let dr_pre = dn_pre * hn[j] * r * (1.0 - r);
        (xr[j], xz[j], xn[j]) = (dr_pre, dz_pre, dn_pre);
        (hr[j], hz[j], hnn[j]) = (dr_pre, dz_pre, dn_pre * r);
        direct[j] = dh * z;
    }
}
