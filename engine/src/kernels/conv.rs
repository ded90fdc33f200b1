//! Convolution as im2col plus one matrix product per batch, and pooling.
//!
//! The unfolded input of a sample has one row per kernel tap
//! (`[C * K * K, Ho * Wo]`), so that the product with the `[N, C * K * K]`
//! weights comes out as the sample's `[N, Ho, Wo]` output.

use rayon::prelude::*;

use super::matmul::{mat, mat_t, matmul, transpose};
use super::parts;

/// The geometry of one convolution or pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geometry {
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.height + 2 * self.pad - self.kernel) / self.stride + 1,
            (self.width + 2 * self.pad - self.kernel) / self.stride + 1,
        )
    }

    fn patch(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }
}

/// The output columns `ox` whose tap `k` reads inside the input row, for
/// stride `s` and padding `p`: input column `ox * s + k - p` in `[0, w)`.
#[inline]
fn valid_cols(k: usize, s: usize, p: usize, w: usize, wo: usize) -> (usize, usize) {
    let lo = p.saturating_sub(k).div_ceil(s);
    let hi = if w + p > k {
        ((w + p - k - 1) / s + 1).min(wo)
    } else {
        0
    };
    (lo.min(hi), hi)
}

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
    if super::packed::available() {
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
                let mask = ((1u32 << (dst.len() - at).min(16)) - 1) as __mmask16;
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

/// `[N, B, P]` to `[B, N, P]`: rows of `P` pixels moved as blocks.
pub fn swap_outer(y: &[f32], a: usize, b: usize, pixels: usize) -> Vec<f32> {
    let mut out = vec![0.0; y.len()];
    for i in 0..a {
        for j in 0..b {
            out[(j * a + i) * pixels..][..pixels]
                .copy_from_slice(&y[(i * b + j) * pixels..][..pixels]);
        }
    }
    out
}

/// Samples per thread at least: a sample's product is already hundreds of
/// thousands of multiply-adds, so any batch is worth splitting.
const SAMPLES_PER_PART: usize = 1;

/// Forward convolution, `[B, C, H, W]` to `[B, N, Ho, Wo]`. Each sample is
/// unfolded and multiplied on its own (`W[N, CKK] · cols[CKK, Ho * Wo]`),
/// so its unfolded input stays in cache and its product lands in place,
/// and the batch is shared between threads.
pub fn conv_forward(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    batch: usize,
    n: usize,
    g: &Geometry,
) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let (pixels, ckk) = (ho * wo, g.patch());
    let in_len = g.channels * g.height * g.width;
    let rows = parts::rows(batch, SAMPLES_PER_PART);
    let mut y = vec![0.0; batch * n * pixels];
    parts::chunks_mut(&mut y, &rows, n * pixels)
        .into_par_iter()
        .zip(parts::chunks(x, &rows, in_len))
        .for_each(|(y, x)| {
            let mut cols = vec![0.0; ckk * pixels];
            for (yb, xb) in y.chunks_mut(n * pixels).zip(x.chunks(in_len)) {
                im2col_into(xb, 1, g, &mut cols);
                for (r, b) in yb.chunks_mut(pixels).zip(bias) {
                    r.fill(*b);
                }
                matmul(yb, mat(w), mat(&cols), n, ckk, pixels, true);
            }
        });
    y
}

/// Forward convolution through int8 weights (inference).
pub fn conv_forward_int8(
    x: &[f32],
    w: &crate::compress::QuantWeight,
    bias: &[f32],
    batch: usize,
    n: usize,
    g: &Geometry,
) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let bhw = batch * ho * wo;
    // The int8 product wants one row per output pixel.
    let cols = transpose(&im2col(x, batch, g), g.patch(), bhw);
    let mut y = crate::compress::quantize::matmul_int8(&cols, bhw, w);
    for r in y.chunks_mut(n) {
        r.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
    }
    // [B * Ho * Wo, N] to [B, N, Ho * Wo].
    let per_sample = transpose(&y, bhw, n);
    swap_outer(&per_sample, n, batch, ho * wo)
}

/// Backward convolution: accumulates into `dw`, `db` and (if given) `dx`.
/// Each sample's unfolded input is rebuilt from `x` rather than kept from
/// the forward pass: unfolding again in cache is cheaper than reading a
/// whole batch's (tens of MB) back from memory.
#[allow(clippy::too_many_arguments)]
pub fn conv_backward(
    gy: &[f32],
    x: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<&mut [f32]>,
    batch: usize,
    n: usize,
    g: &Geometry,
) {
    let (ho, wo) = g.out_hw();
    let (pixels, ckk) = (ho * wo, g.patch());
    let in_len = g.channels * g.height * g.width;
    let rows = parts::rows(batch, SAMPLES_PER_PART);
    let grads: Vec<(Vec<f32>, Vec<f32>)> = parts::chunks(gy, &rows, n * pixels)
        .into_par_iter()
        .zip(parts::chunks(x, &rows, in_len))
        .zip(parts::optional_chunks_mut(dx, &rows, in_len))
        .map(|((gy, x), mut dx)| {
            let (mut dw, mut db) = (vec![0.0; n * ckk], vec![0.0; n]);
            let mut cols = vec![0.0; ckk * pixels];
            let mut dcols = if dx.is_some() {
                vec![0.0; ckk * pixels]
            } else {
                Vec::new()
            };
            for (s, (gyb, xb)) in gy.chunks(n * pixels).zip(x.chunks(in_len)).enumerate() {
                for (d, r) in db.iter_mut().zip(gyb.chunks(pixels)) {
                    *d += super::reduce::sum(r);
                }
                im2col_into(xb, 1, g, &mut cols);
                // dW[N, CKK] += gy[N, P] · colsᵀ
                matmul(&mut dw, mat(gyb), mat_t(&cols), n, pixels, ckk, true);
                if let Some(dx) = dx.as_deref_mut() {
                    // dcols[CKK, P] = Wᵀ · gy[N, P]
                    matmul(&mut dcols, mat_t(w), mat(gyb), ckk, n, pixels, false);
                    col2im(&dcols, &mut dx[s * in_len..][..in_len], 1, g);
                }
            }
            (dw, db)
        })
        .collect();
    for (pw, pb) in grads {
        parts::add_into(dw, &pw);
        parts::add_into(db, &pb);
    }
}

/// Max pooling: the output, and for each output the input index it took.
/// A NaN in a window wins it, as in PyTorch. Planes are shared between
/// threads.
pub fn max_pool(x: &[f32], batch: usize, g: &Geometry) -> (Vec<f32>, Vec<u32>) {
    let (ho, wo) = g.out_hw();
    let (hw, out) = (g.height * g.width, ho * wo);
    let planes = batch * g.channels;
    let mut y = vec![0.0; planes * out];
    let mut arg = vec![0u32; planes * out];
    let rows = parts::rows(planes, 64);
    parts::chunks_mut(&mut y, &rows, out)
        .into_par_iter()
        .zip(parts::chunks_mut(&mut arg, &rows, out))
        .zip(parts::starts(&rows))
        .for_each(|((y, arg), first)| {
            for (p, (yp, ap)) in y.chunks_mut(out).zip(arg.chunks_mut(out)).enumerate() {
                let plane = first + p;
                max_pool_plane(&x[plane * hw..][..hw], plane * hw, g, yp, ap);
            }
        });
    (y, arg)
}

/// One plane of [`max_pool`]; `base` is the plane's offset in the input.
fn max_pool_plane(plane: &[f32], base: usize, g: &Geometry, y: &mut [f32], arg: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if g.kernel == 2 && g.stride == 2 {
        return pool2x2::plane(plane, base, g.width, g.out_hw(), y, arg);
    }
    max_pool_plane_any(plane, base, g, y, arg)
}

/// [`max_pool_plane`] for any window. Each window tap is swept across a whole output row, with the choice made
/// without branches: a branch per comparison mispredicts half the time on
/// real activations (it took a third of LeNet's training step).
fn max_pool_plane_any(plane: &[f32], base: usize, g: &Geometry, y: &mut [f32], arg: &mut [u32]) {
    let (ho, wo) = g.out_hw();
    for oy in 0..ho {
        let best = &mut y[oy * wo..][..wo];
        let at = &mut arg[oy * wo..][..wo];
        best.fill(f32::NEG_INFINITY);
        // A window of -inf alone takes its first tap.
        for (ox, a) in at.iter_mut().enumerate() {
            *a = (base + oy * g.stride * g.width + ox * g.stride) as u32;
        }
        for ky in 0..g.kernel {
            for kx in 0..g.kernel {
                let first = (oy * g.stride + ky) * g.width + kx;
                for (ox, (b, a)) in best.iter_mut().zip(at.iter_mut()).enumerate() {
                    let i = first + ox * g.stride;
                    let v = plane[i];
                    let take = (v > *b) | (v.is_nan() & !b.is_nan());
                    // All ones where taken: blended with bit operations,
                    // which the compiler keeps (it turns `if` into jumps).
                    let m = 0u32.wrapping_sub(u32::from(take));
                    *b = f32::from_bits((b.to_bits() & !m) | (v.to_bits() & m));
                    *a = (*a & !m) | ((base + i) as u32 & m);
                }
            }
        }
    }
}

/// The 2x2, stride-2 window (LeNet's, VGG's), four outputs at a time in
/// SSE2 (every x86-64 CPU has it). The compiler turns the scalar loop's
/// selects back into jumps, which mispredict on real activations; here the
/// choice is made with masks, in the scalar loop's order and NaN rule.
#[cfg(target_arch = "x86_64")]
mod pool2x2 {
    use std::arch::x86_64::*;

    pub fn plane(
        plane: &[f32],
        base: usize,
        width: usize,
        (ho, wo): (usize, usize),
        y: &mut [f32],
        arg: &mut [u32],
    ) {
        assert!(plane.len() >= 2 * ho * width && 2 * wo <= width);
        assert!(y.len() >= ho * wo && arg.len() >= ho * wo);
        for oy in 0..ho {
            let row = 2 * oy * width;
            let whole = wo - wo % 4;
            // SAFETY: SSE2 is part of x86-64; the asserts bound every load
            // (row + width + 2 * ox + 8 <= plane.len() for ox + 4 <= wo)
            // and store.
            unsafe {
                four_at_a_time(
                    plane,
                    base,
                    row,
                    width,
                    whole,
                    &mut y[oy * wo..],
                    &mut arg[oy * wo..],
                )
            };
            for ox in whole..wo {
                let mut best = f32::NEG_INFINITY;
                let mut at = base + row + 2 * ox;
                for i in [
                    row + 2 * ox,
                    row + 2 * ox + 1,
                    row + width + 2 * ox,
                    row + width + 2 * ox + 1,
                ] {
                    let v = plane[i];
                    if v > best || (v.is_nan() && !best.is_nan()) {
                        (best, at) = (v, base + i);
                    }
                }
                y[oy * wo + ox] = best;
                arg[oy * wo + ox] = at as u32;
            }
        }
    }

    #[inline(always)]
    unsafe fn four_at_a_time(
        plane: &[f32],
        base: usize,
        row: usize,
        width: usize,
        whole: usize,
        y: &mut [f32],
        arg: &mut [u32],
    ) {
        let (p, yo, ao) = (plane.as_ptr(), y.as_mut_ptr(), arg.as_mut_ptr());
        let lanes = _mm_setr_epi32(0, 2, 4, 6);
        for ox in (0..whole).step_by(4) {
            let taps = |at: usize| {
                let (a, b) = (_mm_loadu_ps(p.add(at)), _mm_loadu_ps(p.add(at + 4)));
                (
                    _mm_shuffle_ps::<0b10_00_10_00>(a, b),
                    _mm_shuffle_ps::<0b11_01_11_01>(a, b),
                )
            };
            let (t00, t01) = taps(row + 2 * ox);
            let (t10, t11) = taps(row + width + 2 * ox);
            let i00 = _mm_add_epi32(_mm_set1_epi32((base + row + 2 * ox) as i32), lanes);
            let i10 = _mm_add_epi32(i00, _mm_set1_epi32(width as i32));
            let one = _mm_set1_epi32(1);
            let (mut best, mut at) = (t00, i00);
            for (t, i) in [
                (t01, _mm_add_epi32(i00, one)),
                (t10, i10),
                (t11, _mm_add_epi32(i10, one)),
            ] {
                let nan_t = _mm_cmpunord_ps(t, t);
                let nan_best = _mm_cmpunord_ps(best, best);
                let take = _mm_or_ps(_mm_cmpgt_ps(t, best), _mm_andnot_ps(nan_best, nan_t));
                best = _mm_or_ps(_mm_and_ps(take, t), _mm_andnot_ps(take, best));
                let take = _mm_castps_si128(take);
                at = _mm_or_si128(_mm_and_si128(take, i), _mm_andnot_si128(take, at));
            }
            _mm_storeu_ps(yo.add(ox), best);
            _mm_storeu_si128(ao.add(ox).cast(), at);
        }
    }
}

pub fn avg_pool(x: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let hw = g.height * g.width;
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    let mut y = Vec::with_capacity(batch * g.channels * ho * wo);
    for bc in 0..batch * g.channels {
        let plane = &x[bc * hw..(bc + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let mut s = 0.0;
                for ky in 0..g.kernel {
                    let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                    s += plane[row..row + g.kernel].iter().sum::<f32>();
                }
                y.push(s * inv);
            }
        }
    }
    y
}

pub fn avg_pool_backward(gy: &[f32], dx: &mut [f32], batch: usize, g: &Geometry) {
    let (ho, wo) = g.out_hw();
    let hw = g.height * g.width;
    let inv = 1.0 / (g.kernel * g.kernel) as f32;
    for bc in 0..batch * g.channels {
        let plane = &mut dx[bc * hw..(bc + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let v = gy[(bc * ho + oy) * wo + ox] * inv;
                for ky in 0..g.kernel {
                    let row = (oy * g.stride + ky) * g.width + ox * g.stride;
                    plane[row..row + g.kernel].iter_mut().for_each(|d| *d += v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Max pooling over enough planes to be shared between threads, with
    /// ties, a NaN and overlapping windows, against the definition.
    #[test]
    fn max_pool_matches_the_definition() {
        for (kernel, stride) in [(2, 2), (3, 2), (3, 1)] {
            let g = Geometry {
                channels: 16,
                height: 9,
                width: 21,
                kernel,
                stride,
                pad: 0,
            };
            let batch = 10;
            let hw = g.height * g.width;
            let mut x: Vec<f32> = (0..batch * 16 * hw)
                .map(|i| ((i * 37 % 101) as f32 / 10.0).floor())
                .collect();
            for i in [10, 5 * hw + 10, 7 * hw + 23, 7 * hw + 24, 9 * hw + 2] {
                x[i] = f32::NAN;
            }
            x[11 * hw + 4..11 * hw + 8].fill(f32::NEG_INFINITY);
            x[11 * hw + 25..11 * hw + 29].fill(f32::NEG_INFINITY);
            let (y, arg) = max_pool(&x, batch, &g);
            let (ho, wo) = g.out_hw();
            for plane in 0..batch * 16 {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let window = (0..kernel).flat_map(|ky| {
                            (0..kernel).map(move |kx| {
                                plane * hw + (oy * stride + ky) * g.width + ox * stride + kx
                            })
                        });
                        let o = (plane * ho + oy) * wo + ox;
                        let want = window.clone().find(|&i| x[i].is_nan()).unwrap_or_else(|| {
                            window.fold(usize::MAX, |b, i| {
                                if b == usize::MAX || x[i] > x[b] {
                                    i
                                } else {
                                    b
                                }
                            })
                        });
                        assert_eq!(arg[o] as usize, want, "plane {plane} ({oy}, {ox})");
                        assert!(y[o] == x[want] || (y[o].is_nan() && x[want].is_nan()));
                    }
                }
            }
        }
    }
}
