//! The direct convolution's kernels on AVX-512: blocks of twelve filters
//! by two vectors of the wide output, sixteen running sums per weight.

use std::arch::x86_64::*;

use super::{blocks, Kernels, Wide};
use crate::kernels::lanes::{lanes, masks16};

pub(super) const KERNELS: Kernels = Kernels {
    lanes: 16,
    forward: forward_wide,
    dw: dw_wide,
    dx: for_each_width!(dx_passes),
};

/// `yw[n, j] = b[n] + Σ_t W[n, t] · x[off_t + j]`, blocks of rows at a
/// time, two vectors of `j` per pass.
#[target_feature(enable = "avx512f")]
unsafe fn forward_wide(x: &[f32], w: &[f32], bias: &[f32], n: usize, wd: &Wide, yw: &mut [f32]) {
    let taps = wd.offsets.len();
    for (first, rows) in blocks(n, 12) {
        let (wb, bb, yb) = (
            w.as_ptr().add(first * taps),
            bias.as_ptr().add(first),
            yw.as_mut_ptr().add(first * wd.len),
        );
        macro_rules! by_rows {
            ($($r:literal)*) => {
                match rows {
                    $($r => forward_block::<$r>(x.as_ptr(), wb, bb, taps, &wd.offsets, wd.len, yb),)*
                    _ => unreachable!("blocks are 1..=12 rows"),
                }
            };
        }
        by_rows!(1 2 3 4 5 6 7 8 9 10 11 12);
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn forward_block<const R: usize>(
    x: *const f32,
    w: *const f32,
    bias: *const f32,
    taps: usize,
    offsets: &[usize],
    len: usize,
    y: *mut f32,
) {
    for j in (0..len).step_by(32) {
        let [m0, m1] = masks16(len - j);
        let mut acc = [[_mm512_setzero_ps(); 2]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            let b = _mm512_set1_ps(*bias.add(r));
            *row = [b, b];
        }
        for (t, &off) in offsets.iter().enumerate() {
            let p = x.add(off + j);
            let (x0, x1) = (
                _mm512_maskz_loadu_ps(m0, p),
                _mm512_maskz_loadu_ps(m1, p.wrapping_add(16)),
            );
            for (r, row) in acc.iter_mut().enumerate() {
                let wv = _mm512_set1_ps(*w.add(r * taps + t));
                row[0] = _mm512_fmadd_ps(wv, x0, row[0]);
                row[1] = _mm512_fmadd_ps(wv, x1, row[1]);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            let p = y.add(r * len + j);
            _mm512_mask_storeu_ps(p, m0, row[0]);
            _mm512_mask_storeu_ps(p.wrapping_add(16), m1, row[1]);
        }
    }
}

/// `sums[n, t, :] += Σ_j gy[n, j] · x[off_t + j]` (sixteen partial sums
/// per weight), four taps and up to six rows per pass.
#[target_feature(enable = "avx512f")]
unsafe fn dw_wide(x: &[f32], gyw: &[f32], n: usize, wd: &Wide, sums: &mut [f32]) {
    let taps = wd.offsets.len();
    for t0 in (0..taps).step_by(4) {
        let count = 4.min(taps - t0);
        // Missing taps of the last group read tap t0 again; their sums are
        // dropped.
        let offs: [usize; 4] =
            std::array::from_fn(|q| wd.offsets[t0 + if q < count { q } else { 0 }]);
        for (first, rows) in blocks(n, 6) {
            let g = gyw.as_ptr().add(first * wd.len);
            let l = sums.as_mut_ptr().add((first * taps + t0) * 16);
            macro_rules! by_rows {
                ($($r:literal)*) => {
                    match rows {
                        $($r => dw_block::<$r>(x.as_ptr(), offs, count, g, wd.len, l, taps),)*
                        _ => unreachable!("blocks are 1..=6 rows"),
                    }
                };
            }
            by_rows!(1 2 3 4 5 6);
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn dw_block<const R: usize>(
    x: *const f32,
    offs: [usize; 4],
    count: usize,
    gy: *const f32,
    len: usize,
    sums: *mut f32,
    taps: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); 4]; R];
    for j in (0..len).step_by(16) {
        let m = lanes(len - j);
        let xv: [__m512; 4] = std::array::from_fn(|q| _mm512_maskz_loadu_ps(m, x.add(offs[q] + j)));
        for (r, row) in acc.iter_mut().enumerate() {
            let gv = _mm512_maskz_loadu_ps(m, gy.add(r * len + j));
            for (a, xq) in row.iter_mut().zip(xv) {
                *a = _mm512_fmadd_ps(gv, xq, *a);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (q, a) in row.iter().enumerate().take(count) {
            let p = sums.add((r * taps + q) * 16);
            _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), *a));
        }
    }
}

/// `dx[off_t + j] += Σ_n W[n, t] · gy[n, j]`, `V` vectors of `j` per pass
/// (independent sums over `n`).
#[target_feature(enable = "avx512f")]
unsafe fn dx_passes<const V: usize>(w: &[f32], gyw: &[f32], n: usize, wd: &Wide, dx: &mut [f32]) {
    let taps = wd.offsets.len();
    let (w, g, d) = (w.as_ptr(), gyw.as_ptr(), dx.as_mut_ptr());
    for (t, &off) in wd.offsets.iter().enumerate() {
        for j in (0..wd.len).step_by(16 * V) {
            let m = masks16::<V>(wd.len - j);
            let mut acc = [_mm512_setzero_ps(); V];
            for r in 0..n {
                let wv = _mm512_set1_ps(*w.add(r * taps + t));
                let row = g.add(r * wd.len + j);
                for (q, a) in acc.iter_mut().enumerate() {
                    *a = _mm512_fmadd_ps(
                        wv,
                        _mm512_maskz_loadu_ps(m[q], row.wrapping_add(16 * q)),
                        *a,
                    );
                }
            }
            for (q, a) in acc.iter().enumerate() {
                let p = d.wrapping_add(off + j + 16 * q);
                _mm512_mask_storeu_ps(p, m[q], _mm512_add_ps(_mm512_maskz_loadu_ps(m[q], p), *a));
            }
        }
    }
}
