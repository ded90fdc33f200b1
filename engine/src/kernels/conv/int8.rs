//! Forward convolution through int8 weights (inference): each sample
//! quantized once to bytes (its own scale and zero point), unfolded in
//! bytes with one row per output pixel — the padding taps take the zero
//! point, which is the byte of 0.0 — and multiplied on the int8 kernels.
//! Rows are short (a 5x5 patch is 25 bytes), so unfolding bytes instead of
//! floats, and no transposes, is what makes the integer path pay.

use super::{by_parts, Geometry};
use crate::kernels::int8::{Kernel, QuantRows, QuantWeight};

/// `y` (`[B, N, Ho, Wo]`) of the samples `x` (`[B, C, H, W]`).
pub fn conv_forward_int8(
    x: &[f32],
    w: &QuantWeight,
    bias: &[f32],
    batch: usize,
    n: usize,
    g: &Geometry,
) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let pixels = ho * wo;
    let in_len = g.channels * g.height * g.width;
    let kernel = Kernel::best();
    by_parts(x, batch, n, g, |x, y| {
        let mut cols = Vec::new();
        let mut sums = Vec::new();
        for (yb, xb) in y.chunks_mut(n * pixels).zip(x.chunks(in_len)) {
            let sample = QuantRows::new(xb, 1, in_len);
            unfold(&sample.q, sample.zeros[0] as u8, g, &mut cols);
            let rows = QuantRows {
                q: std::mem::take(&mut cols),
                k4: w.k4(),
                scales: vec![sample.scales[0]; pixels],
                zeros: vec![sample.zeros[0]; pixels],
            };
            let ldc = kernel.width(w);
            sums.resize(pixels * ldc, 0);
            kernel.sums(&rows, pixels, w, &mut sums);
            finish(&sums, ldc, &rows, w, bias, yb, pixels);
            cols = rows.q;
        }
    })
}

/// `x`'s bytes unfolded: row `p` holds output pixel `p`'s patch, in the
/// weights' order (channel, tap row, tap column), `k4` bytes long.
fn unfold(x: &[u8], zero: u8, g: &Geometry, cols: &mut Vec<u8>) {
    // Common kernel sizes get their own copy, whose fixed-length moves the
    // compiler emits inline (a run-time length is a call or a byte loop).
    match g.kernel {
        3 => unfold_k::<3>(x, zero, g, cols),
        5 => unfold_k::<5>(x, zero, g, cols),
        _ => unfold_any(x, zero, g, cols),
    }
}

fn unfold_k<const K: usize>(x: &[u8], zero: u8, g: &Geometry, cols: &mut Vec<u8>) {
    let (ho, wo) = g.out_hw();
    let (h, w, s, p) = (g.height, g.width, g.stride, g.pad);
    let k4 = crate::kernels::int8::padded(g.channels * K * K);
    cols.clear();
    cols.resize(ho * wo * k4, 0);
    let mut rows = cols.chunks_exact_mut(k4);
    for oy in 0..ho {
        for ox in 0..wo {
            let row = rows.next().expect("a row per output pixel");
            let x0 = (ox * s).wrapping_sub(p);
            let inside = ox * s >= p && x0 + K <= w;
            let (taps, _) = row.as_chunks_mut::<K>();
            let mut taps = taps.iter_mut();
            for c in 0..g.channels {
                for ky in 0..K {
                    let dst = taps.next().expect("a tap row per channel and row");
                    let iy = (oy * s + ky).wrapping_sub(p);
                    if iy >= h {
                        *dst = [zero; K];
                    } else if inside {
                        let at = (c * h + iy) * w + x0;
                        *dst = x[at..at + K].try_into().expect("K bytes");
                    } else {
                        for (kx, d) in dst.iter_mut().enumerate() {
                            let ix = x0.wrapping_add(kx);
                            *d = if ix < w {
                                x[(c * h + iy) * w + ix]
                            } else {
                                zero
                            };
                        }
                    }
                }
            }
        }
    }
}

/// [`unfold_k`] for any kernel size, tap by tap.
fn unfold_any(x: &[u8], zero: u8, g: &Geometry, cols: &mut Vec<u8>) {
    let (ho, wo) = g.out_hw();
    let (h, w, k, s, p) = (g.height, g.width, g.kernel, g.stride, g.pad);
    let k4 = crate::kernels::int8::padded(g.channels * k * k);
    cols.clear();
    cols.resize(ho * wo * k4, 0);
    for (pixel, row) in cols.chunks_exact_mut(k4).enumerate() {
        let (oy, ox) = (pixel / wo, pixel % wo);
        let mut at = 0;
        for c in 0..g.channels {
            for ky in 0..k {
                let iy = (oy * s + ky).wrapping_sub(p);
                for kx in 0..k {
                    let ix = (ox * s + kx).wrapping_sub(p);
                    row[at] = if iy < h && ix < w {
                        x[(c * h + iy) * w + ix]
                    } else {
                        zero
                    };
                    at += 1;
                }
            }
        }
    }
}

/// `y[j, p] = (c[p, j] - zero · Σw[j]) · sx · sw[j] + bias[j]`: the sums
/// back in floats, laid out channel first.
fn finish(
    c: &[i32],
    ldc: usize,
    rows: &QuantRows,
    w: &QuantWeight,
    bias: &[f32],
    y: &mut [f32],
    pixels: usize,
) {
    let (sx, z) = (rows.scales[0], rows.zeros[0]);
    let sums = w.weight_sums();
    for (j, plane) in y.chunks_mut(pixels).enumerate() {
        let (scale, offset, b) = (sx * w.scales[j], z * sums[j], bias[j]);
        for (p, out) in plane.iter_mut().enumerate() {
            *out = (c[p * ldc + j] - offset) as f32 * scale + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unfolding path (kernel 3, 5 and another size; padding and
    /// stride) against the float convolution of the dequantized weights:
    /// within what the activations' 8 bits allow.
    #[test]
    fn the_int8_convolution_follows_the_float_one() {
        for (channels, size, kernel, stride, pad, n) in
            [(1, 12, 5, 1, 2, 6), (3, 9, 3, 2, 1, 17), (2, 8, 4, 1, 0, 5)]
        {
            let g = Geometry {
                channels,
                height: size,
                width: size,
                kernel,
                stride,
                pad,
            };
            let batch = 3;
            let x: Vec<f32> = (0..batch * channels * size * size)
                .map(|i| ((i * 7919 % 1013) as f32 - 400.0) / 300.0)
                .collect();
            let wf: Vec<f32> = (0..n * channels * kernel * kernel)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 60.0)
                .collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0).collect();
            let q = QuantWeight::quantize(&wf, n);
            let want = super::super::conv_forward(&x, &q.dequantize(), &bias, batch, n, &g);
            let got = conv_forward_int8(&x, &q, &bias, batch, n, &g);
            assert_eq!(got.len(), want.len());
            let per_sample = want.len() / batch;
            for (b, (gs, ws)) in got
                .chunks(per_sample)
                .zip(want.chunks(per_sample))
                .enumerate()
            {
                // One activation step of this sample times the patch's weights.
                let xs = &x[b * channels * size * size..][..channels * size * size];
                let (lo, hi) = xs
                    .iter()
                    .fold((0f32, 0f32), |(a, c), v| (a.min(*v), c.max(*v)));
                let step = (hi - lo) / 255.0;
                let patch_abs: f32 = wf.iter().map(|v| v.abs()).fold(0.0, f32::max)
                    * (channels * kernel * kernel) as f32;
                for (a, e) in gs.iter().zip(ws) {
                    assert!(
                        (a - e).abs() <= step * patch_abs * 0.5 + 1e-4,
                        "k{kernel} s{stride} p{pad}: {a} vs {e}"
                    );
                }
            }
        }
    }
}
