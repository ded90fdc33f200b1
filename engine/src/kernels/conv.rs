//! Convolution as im2col plus one matrix product per batch, and pooling.
//!
//! The unfolded input has one row per output pixel of every sample
//! (`[B * Ho * Wo, C * K * K]`), so that a whole batch is a single gemm
//! against the `[N, C * K * K]` weights.

use super::matmul::{mat, mat_t, matmul, transpose};

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
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.pad);
    let bhw = batch * ho * wo;
    let mut cols = vec![0.0; g.patch() * bhw];
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
                            dst[x0..x1].copy_from_slice(&src[first..first + (x1 - x0)]);
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
    cols
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

/// Forward convolution: returns the output `[B, N, Ho, Wo]` and the
/// unfolded input (kept for the weight gradient).
pub fn conv_forward(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    batch: usize,
    n: usize,
    g: &Geometry,
) -> (Vec<f32>, Vec<f32>) {
    let (ho, wo) = g.out_hw();
    let bhw = batch * ho * wo;
    let cols = im2col(x, batch, g);
    // y[N, B * Ho * Wo] = W[N, CKK] · cols[CKK, B * Ho * Wo]
    let mut y = vec![0.0; n * bhw];
    for (r, b) in y.chunks_mut(bhw).zip(bias) {
        r.fill(*b);
    }
    matmul(&mut y, mat(w), mat(&cols), n, g.patch(), bhw, true);
    (swap_outer(&y, n, batch, ho * wo), cols)
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
#[allow(clippy::too_many_arguments)]
pub fn conv_backward(
    gy: &[f32],
    cols: &[f32],
    w: &[f32],
    dw: &mut [f32],
    db: &mut [f32],
    dx: Option<&mut [f32]>,
    batch: usize,
    n: usize,
    g: &Geometry,
) {
    let (ho, wo) = g.out_hw();
    let bhw = batch * ho * wo;
    // [B, N, P] to [N, B * P].
    let gn = swap_outer(gy, batch, n, ho * wo);
    for (d, r) in db.iter_mut().zip(gn.chunks(bhw)) {
        *d += r.iter().sum::<f32>();
    }
    matmul(dw, mat(&gn), mat_t(cols), n, bhw, g.patch(), true);
    if let Some(dx) = dx {
        let mut dcols = vec![0.0; g.patch() * bhw];
        matmul(&mut dcols, mat_t(w), mat(&gn), g.patch(), n, bhw, false);
        col2im(&dcols, dx, batch, g);
    }
}

/// Max pooling: the output, and for each output the input index it took.
pub fn max_pool(x: &[f32], batch: usize, g: &Geometry) -> (Vec<f32>, Vec<u32>) {
    let (ho, wo) = g.out_hw();
    let hw = g.height * g.width;
    let mut y = Vec::with_capacity(batch * g.channels * ho * wo);
    let mut arg = Vec::with_capacity(y.capacity());
    for bc in 0..batch * g.channels {
        let plane = &x[bc * hw..(bc + 1) * hw];
        for oy in 0..ho {
            for ox in 0..wo {
                let (mut best, mut at) = (f32::NEG_INFINITY, 0);
                for ky in 0..g.kernel {
                    let row = (oy * g.stride + ky) * g.width;
                    for kx in 0..g.kernel {
                        let i = row + ox * g.stride + kx;
                        if plane[i] > best || (plane[i].is_nan() && !best.is_nan()) {
                            best = plane[i];
                            at = i;
                        }
                    }
                }
                y.push(best);
                arg.push((bc * hw + at) as u32);
            }
        }
    }
    (y, arg)
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
