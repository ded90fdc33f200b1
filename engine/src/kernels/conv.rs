//! Convolution as im2col plus one matrix product per batch, and pooling.
//!
//! The unfolded input has one row per output pixel of every sample
//! (`[B * Ho * Wo, C * K * K]`), so that a whole batch is a single gemm
//! against the `[N, C * K * K]` weights.

use super::matmul::{mat, mat_t, matmul};

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

    /// Calls `f(col, input_index)` for every in-bounds tap of output pixel
    /// (oy, ox); `col` indexes the patch row.
    #[inline]
    fn taps(&self, oy: usize, ox: usize, mut f: impl FnMut(usize, usize)) {
        let (k, hw) = (self.kernel, self.height * self.width);
        for c in 0..self.channels {
            for ky in 0..k {
                let y = (oy * self.stride + ky) as isize - self.pad as isize;
                if y < 0 || y >= self.height as isize {
                    continue;
                }
                for kx in 0..k {
                    let x = (ox * self.stride + kx) as isize - self.pad as isize;
                    if x < 0 || x >= self.width as isize {
                        continue;
                    }
                    f(
                        c * k * k + ky * k + kx,
                        c * hw + y as usize * self.width + x as usize,
                    );
                }
            }
        }
    }
}

/// Unfolds `x` (`[B, C, H, W]`) into `[B * Ho * Wo, C * K * K]`.
pub fn im2col(x: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let p = g.patch();
    let chw = g.channels * g.height * g.width;
    let mut cols = vec![0.0; batch * ho * wo * p];
    for b in 0..batch {
        let xb = &x[b * chw..(b + 1) * chw];
        for oy in 0..ho {
            for ox in 0..wo {
                let row = &mut cols[((b * ho + oy) * wo + ox) * p..][..p];
                g.taps(oy, ox, |col, i| row[col] = xb[i]);
            }
        }
    }
    cols
}

/// Adds the unfolded gradient back onto `dx` (`[B, C, H, W]`).
pub fn col2im(dcols: &[f32], dx: &mut [f32], batch: usize, g: &Geometry) {
    let (ho, wo) = g.out_hw();
    let p = g.patch();
    let chw = g.channels * g.height * g.width;
    for b in 0..batch {
        let dxb = &mut dx[b * chw..(b + 1) * chw];
        for oy in 0..ho {
            for ox in 0..wo {
                let row = &dcols[((b * ho + oy) * wo + ox) * p..][..p];
                g.taps(oy, ox, |col, i| dxb[i] += row[col]);
            }
        }
    }
}

/// `[B * Ho * Wo, N]` (pixel-major) to `[B, N, Ho * Wo]` (channel-major).
pub fn pixels_to_channels(y: &[f32], batch: usize, n: usize, pixels: usize) -> Vec<f32> {
    let mut out = vec![0.0; y.len()];
    for b in 0..batch {
        for p in 0..pixels {
            let src = &y[(b * pixels + p) * n..][..n];
            for (c, v) in src.iter().enumerate() {
                out[(b * n + c) * pixels + p] = *v;
            }
        }
    }
    out
}

/// The inverse of [`pixels_to_channels`].
pub fn channels_to_pixels(y: &[f32], batch: usize, n: usize, pixels: usize) -> Vec<f32> {
    let mut out = vec![0.0; y.len()];
    for b in 0..batch {
        for c in 0..n {
            let src = &y[(b * n + c) * pixels..][..pixels];
            for (p, v) in src.iter().enumerate() {
                out[(b * pixels + p) * n + c] = *v;
            }
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
    let rows = batch * ho * wo;
    let cols = im2col(x, batch, g);
    let mut y = vec![0.0; rows * n];
    for r in y.chunks_mut(n) {
        r.copy_from_slice(bias);
    }
    matmul(&mut y, mat(&cols), mat_t(w), rows, g.patch(), n, true);
    (pixels_to_channels(&y, batch, n, ho * wo), cols)
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
    let rows = batch * ho * wo;
    let cols = im2col(x, batch, g);
    let mut y = crate::compress::quantize::matmul_int8(&cols, rows, w);
    for r in y.chunks_mut(n) {
        r.iter_mut().zip(bias).for_each(|(y, b)| *y += b);
    }
    pixels_to_channels(&y, batch, n, ho * wo)
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
    let rows = batch * ho * wo;
    let gp = channels_to_pixels(gy, batch, n, ho * wo);
    for r in gp.chunks(n) {
        for (d, v) in db.iter_mut().zip(r) {
            *d += v;
        }
    }
    matmul(dw, mat_t(&gp), mat(cols), n, rows, g.patch(), true);
    if let Some(dx) = dx {
        let mut dcols = vec![0.0; rows * g.patch()];
        matmul(&mut dcols, mat(&gp), mat(w), rows, n, g.patch(), false);
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
