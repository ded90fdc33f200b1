//! Convolution through unfolding: a sample's input becomes `[C * K * K,
//! Ho * Wo]` (one row per kernel tap), so that the product with the `[N,
//! C * K * K]` weights is the sample's `[N, Ho, Wo]` output. Any stride and
//! padding.

use super::{valid_cols, Geometry};
use crate::kernels::matmul::{mat, mat_t, matmul, Out};

/// Unfolds `x` (`[B, C, H, W]`) into `[C * K * K, B * Ho * Wo]`: one row
/// per kernel tap, so each tap is a run of contiguous copies (plain slice
/// copies at stride 1), and the product with the weights comes out
/// channel-major.
pub fn im2col(x: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let mut cols = vec![0.0; g.patch() * batch * ho * wo];
    im2col_into(x, batch, g, &mut cols);
    cols
}

/// [`im2col`] into a buffer of the right size, whatever it held.
pub fn im2col_into(x: &[f32], batch: usize, g: &Geometry, cols: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::packed::avx512() {
        // SAFETY: the CPU has AVX-512F.
        return unsafe { short_copies::im2col_into(x, batch, g, cols) };
    }
    im2col_body(x, batch, g, cols, |dst, src| dst.copy_from_slice(src))
}

/// The unfolding, with the copy of each run (a row of a tap, as long as an
/// output row) given: `copy_from_slice` of a run-time length is a call to
/// `memcpy`, which for LeNet's 28- and 10-value runs cost more than the
/// products.
#[inline(always)]
fn im2col_body(
    x: &[f32],
    batch: usize,
    g: &Geometry,
    cols: &mut [f32],
    copy: impl Fn(&mut [f32], &[f32]),
) {
    let (ho, wo) = g.out_hw();
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.pad);
    let bhw = batch * ho * wo;
    if p > 0 {
        // Taps that fall on the padding are skipped below.
        cols.fill(0.0);
    }
    for c in 0..g.channels {
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut cols[((c * k + ky) * k + kx) * bhw..][..bhw];
                let (x0, x1) = valid_cols(kx, s, p, w, wo);
                for b in 0..batch {
                    let plane = &x[(b * g.channels + c) * h * w..][..h * w];
                    for oy in 0..ho {
                        let y = (oy * s + ky) as isize - p as isize;
                        if y < 0 || y >= h as isize || x0 >= x1 {
                            continue;
                        }
                        let src = &plane[y as usize * w..][..w];
                        let dst = &mut row[(b * ho + oy) * wo..][..wo];
                        let first = x0 * s + kx - p;
                        if s == 1 {
                            copy(&mut dst[x0..x1], &src[first..first + (x1 - x0)]);
                        } else {
                            for (d, ox) in dst[x0..x1].iter_mut().zip(0..) {
                                *d = src[first + ox * s];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Short runs copied 16 lanes at a time with masks.
#[cfg(target_arch = "x86_64")]
mod short_copies {
    use std::arch::x86_64::*;

    use super::Geometry;

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn im2col_into(x: &[f32], batch: usize, g: &Geometry, cols: &mut [f32]) {
        super::im2col_body(x, batch, g, cols, |dst, src| {
            assert_eq!(dst.len(), src.len());
            let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
            for at in (0..dst.len()).step_by(16) {
                let mask = crate::kernels::lanes::lanes(dst.len() - at);
                // SAFETY: the mask keeps both accesses inside the slices.
                unsafe {
                    _mm512_mask_storeu_ps(d.add(at), mask, _mm512_maskz_loadu_ps(mask, s.add(at)))
                };
            }
        })
    }
}

/// Adds the unfolded gradient (`[C * K * K, B * Ho * Wo]`) back onto `dx`.
pub fn col2im(dcols: &[f32], dx: &mut [f32], batch: usize, g: &Geometry) {
    let (ho, wo) = g.out_hw();
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.pad);
    let bhw = batch * ho * wo;
    for c in 0..g.channels {
        for ky in 0..k {
            for kx in 0..k {
                let row = &dcols[((c * k + ky) * k + kx) * bhw..][..bhw];
                let (x0, x1) = valid_cols(kx, s, p, w, wo);
                for b in 0..batch {
                    let plane = &mut dx[(b * g.channels + c) * h * w..][..h * w];
                    for oy in 0..ho {
                        let y = (oy * s + ky) as isize - p as isize;
                        if y < 0 || y >= h as isize || x0 >= x1 {
                            continue;
                        }
                        let dst = &mut plane[y as usize * w..][..w];
                        let src = &row[(b * ho + oy) * wo..][..wo];
                        let first = x0 * s + kx - p;
                        for (ox, v) in src[x0..x1].iter().enumerate() {
                            dst[first + ox * s] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Forward convolution of the samples `x` (`[S, C, H, W]`) into `y`
/// (`[S, N, Ho, Wo]`), one sample at a time: its unfolded input stays in
/// cache and its product lands in place.
pub fn forward(x: &[f32], w: &[f32], bias: &[f32], n: usize, g: &Geometry, y: &mut [f32]) {
    let (ho, wo) = g.out_hw();
    let (pixels, ckk) = (ho * wo, g.patch());
    let in_len = g.channels * g.height * g.width;
    let mut cols = vec![0.0; ckk * pixels];
    for (yb, xb) in y.chunks_mut(n * pixels).zip(x.chunks(in_len)) {
        im2col_into(xb, 1, g, &mut cols);
        for (r, b) in yb.chunks_mut(pixels).zip(bias) {
            r.fill(*b);
        }
        matmul(yb, mat(w), mat(&cols), n, ckk, pixels, Out::Accumulate);
    }
}

/// Backward convolution of the samples `x` given `gy`: accumulates into
/// `dw` and (if given) `dx`. Each sample's unfolded input is rebuilt rather
/// than kept from the forward pass: unfolding again in cache is cheaper
/// than reading a whole batch's (tens of MB) back from memory.
pub fn backward(
    gy: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    mut dx: Option<&mut [f32]>,
    n: usize,
    g: &Geometry,
) {
    let (ho, wo) = g.out_hw();
    let (pixels, ckk) = (ho * wo, g.patch());
    let in_len = g.channels * g.height * g.width;
    let mut cols = vec![0.0; ckk * pixels];
    let mut dcols = if dx.is_some() {
        vec![0.0; ckk * pixels]
    } else {
        Vec::new()
    };
    for (s, (gyb, xb)) in gy.chunks(n * pixels).zip(x.chunks(in_len)).enumerate() {
        im2col_into(xb, 1, g, &mut cols);
        // dW[N, CKK] += gy[N, P] · colsᵀ
        matmul(dw, mat(gyb), mat_t(&cols), n, pixels, ckk, Out::Accumulate);
        if let Some(dx) = dx.as_deref_mut() {
            // dcols[CKK, P] = Wᵀ · gy[N, P]
            matmul(
                &mut dcols,
                mat_t(w),
                mat(gyb),
                ckk,
                n,
                pixels,
                Out::Overwrite,
            );
            col2im(&dcols, &mut dx[s * in_len..][..in_len], 1, g);
        }
    }
}
