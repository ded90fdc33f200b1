//! Convolution at stride 1 straight from the input: no unfolded copy, no
//! packing.
//!
//! Computed "wide" — each output row as long as an input row, the last
//! `K - 1` columns of each being garbage — kernel tap `t = (c, ky, kx)`
//! reads the input at one fixed offset from output position `j`:
//! `off_t = c·H·W + ky·W + kx`. Every tap is a shifted view of the sample,
//! and the three products of a convolution are sums over those views:
//!
//! ```text
//! y[n, j]        = b[n] + Σ_t W[n, t] · x[off_t + j]
//! dW[n, t]      += Σ_j gy[n, j] · x[off_t + j]
//! dx[off_t + j] += Σ_n W[n, t] · gy[n, j]
//! ```
//!
//! The wide length `L = (Ho − 1)·W + Wo` keeps every read inside the
//! sample; garbage columns are dropped from `y` and are zero in `gy`.
//! Padding is a zero-bordered copy of the sample. For LeNet, unfolding and
//! packing (short runs of 28 and 10 values) cost more than the products.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

#[cfg(target_arch = "x86_64")]
use crate::kernels::packed::lanes;

use super::Geometry;

/// Weights (filters x taps) at most for the direct path: its weight
/// gradient keeps 16 running sums per weight (4 MiB here), and a layer
/// this wide has enough work per product for unfolding to pay.
const MAX_WEIGHTS: usize = 1 << 16;

/// Whether a layer of `n` filters over this geometry, on this CPU, takes
/// the direct path.
pub fn available(g: &Geometry, n: usize) -> bool {
    cfg!(target_arch = "x86_64")
        && g.stride == 1
        && n * g.patch() <= MAX_WEIGHTS
        && crate::kernels::packed::avx512()
}

/// The wide layout of one sample.
struct Wide {
    /// Padded input height and width.
    hp: usize,
    wp: usize,
    ho: usize,
    wo: usize,
    /// Wide output length per channel.
    len: usize,
    /// Input offset of every tap, in the weights' `(c, ky, kx)` order.
    offsets: Vec<usize>,
}

impl Wide {
    fn of(g: &Geometry) -> Self {
        let (hp, wp) = (g.height + 2 * g.pad, g.width + 2 * g.pad);
        let (ho, wo) = g.out_hw();
        let k = g.kernel;
        let mut offsets = Vec::with_capacity(g.patch());
        for c in 0..g.channels {
            for ky in 0..k {
                for kx in 0..k {
                    offsets.push(c * hp * wp + ky * wp + kx);
                }
            }
        }
        Wide {
            hp,
            wp,
            ho,
            wo,
            len: (ho - 1) * wp + wo,
            offsets,
        }
    }

    fn padded_len(&self, g: &Geometry) -> usize {
        g.channels * self.hp * self.wp
    }
}

/// The sample itself, or (with padding) its copy inside `buf`'s zero
/// border. `buf` is zero once and only its interior is ever written.
fn padded<'a>(x: &'a [f32], g: &Geometry, wd: &Wide, buf: &'a mut [f32]) -> &'a [f32] {
    if g.pad == 0 {
        return x;
    }
    let (h, w, p) = (g.height, g.width, g.pad);
    for c in 0..g.channels {
        for y in 0..h {
            buf[(c * wd.hp + y + p) * wd.wp + p..][..w].copy_from_slice(&x[(c * h + y) * w..][..w]);
        }
    }
    buf
}

/// Forward convolution of the samples `x` (`[S, C, H, W]`) into `y`
/// (`[S, N, Ho, Wo]`).
pub fn forward(x: &[f32], w: &[f32], bias: &[f32], n: usize, g: &Geometry, y: &mut [f32]) {
    let wd = Wide::of(g);
    let (in_len, pixels) = (g.channels * g.height * g.width, wd.ho * wd.wo);
    let mut xp = vec![0.0; if g.pad > 0 { wd.padded_len(g) } else { 0 }];
    let mut yw = vec![0.0; n * wd.len];
    assert!(w.len() == n * wd.offsets.len() && bias.len() == n);
    for (yb, xb) in y.chunks_mut(n * pixels).zip(x.chunks(in_len)) {
        let src = padded(xb, g, &wd, &mut xp);
        // SAFETY: `available` checked the CPU; the kernels read `src` at
        // `off_t + j` for j < len, inside the padded sample (shown in the
        // module comment), and the asserts above size `w` and `bias`.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            forward_wide(src, w, bias, n, &wd, &mut yw)
        };
        for (r, yr) in yb.chunks_mut(pixels).enumerate() {
            for (oy, row) in yr.chunks_mut(wd.wo).enumerate() {
                row.copy_from_slice(&yw[r * wd.len + oy * wd.wp..][..wd.wo]);
            }
        }
    }
}

/// Backward convolution of the samples `x` given `gy`: accumulates into
/// `dw` and (if given) `dx`.
pub fn backward(
    gy: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    mut dx: Option<&mut [f32]>,
    n: usize,
    g: &Geometry,
) {
    let wd = Wide::of(g);
    let taps = wd.offsets.len();
    let (in_len, pixels) = (g.channels * g.height * g.width, wd.ho * wd.wo);
    let padded_len = wd.padded_len(g);
    assert!(w.len() == n * taps && dw.len() == n * taps);
    let mut xp = vec![0.0; if g.pad > 0 { padded_len } else { 0 }];
    let mut dxp = vec![
        0.0;
        if g.pad > 0 && dx.is_some() {
            padded_len
        } else {
            0
        }
    ];
    // Garbage columns are never written, so they stay zero.
    let mut gyw = vec![0.0; n * wd.len];
    // dW as 16 running sums per weight, summed across lanes at the end.
    let mut sums = vec![0.0; n * taps * 16];
    for (s, (gyb, xb)) in gy.chunks(n * pixels).zip(x.chunks(in_len)).enumerate() {
        let src = padded(xb, g, &wd, &mut xp);
        for (r, gr) in gyb.chunks(pixels).enumerate() {
            for (oy, row) in gr.chunks(wd.wo).enumerate() {
                gyw[r * wd.len + oy * wd.wp..][..wd.wo].copy_from_slice(row);
            }
        }
        // SAFETY: as in `forward`; `dx` and `dxp` hold the (padded)
        // sample, which every `off_t + j` stays inside.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            dw_wide(src, &gyw, n, &wd, &mut sums);
            if let Some(dx) = dx.as_deref_mut() {
                let dxb = &mut dx[s * in_len..][..in_len];
                if g.pad == 0 {
                    dx_wide(w, &gyw, n, &wd, dxb);
                } else {
                    dxp.fill(0.0);
                    dx_wide(w, &gyw, n, &wd, &mut dxp);
                    let (h, wi, p) = (g.height, g.width, g.pad);
                    for c in 0..g.channels {
                        for y in 0..h {
                            let from = &dxp[(c * wd.hp + y + p) * wd.wp + p..][..wi];
                            dxb[(c * h + y) * wi..][..wi]
                                .iter_mut()
                                .zip(from)
                                .for_each(|(d, v)| *d += v);
                        }
                    }
                }
            }
        }
    }
    for (d, l) in dw.iter_mut().zip(sums.chunks(16)) {
        *d += l.iter().sum::<f32>();
    }
}

/// Heights of balanced blocks of at most `max` rows covering `n`.
fn blocks(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = n.div_ceil(max);
    (0..count).scan(0, move |start, b| {
        let rows = n / count + usize::from(b < n % count);
        let first = *start;
        *start += rows;
        Some((first, rows))
    })
}

/// `yw[n, j] = b[n] + Σ_t W[n, t] · x[off_t + j]`, blocks of rows at a
/// time, two vectors of `j` per pass.
#[cfg(target_arch = "x86_64")]
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

#[cfg(target_arch = "x86_64")]
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
        let (m0, m1) = (lanes(len - j), lanes((len - j).saturating_sub(16)));
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
#[cfg(target_arch = "x86_64")]
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

#[cfg(target_arch = "x86_64")]
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

/// `dx[off_t + j] += Σ_n W[n, t] · gy[n, j]`, eight vectors of `j` per
/// pass (eight independent sums over `n`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dx_wide(w: &[f32], gyw: &[f32], n: usize, wd: &Wide, dx: &mut [f32]) {
    const Q: usize = 8;
    let taps = wd.offsets.len();
    let (w, g, d) = (w.as_ptr(), gyw.as_ptr(), dx.as_mut_ptr());
    for (t, &off) in wd.offsets.iter().enumerate() {
        for j in (0..wd.len).step_by(16 * Q) {
            let m: [__mmask16; Q] =
                std::array::from_fn(|q| lanes((wd.len - j).saturating_sub(16 * q)));
            let mut acc = [_mm512_setzero_ps(); Q];
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
