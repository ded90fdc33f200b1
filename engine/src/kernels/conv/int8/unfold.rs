//! The int8 convolution for any geometry and CPU: each sample quantized
//! once to bytes (its own scale and zero point), unfolded in bytes with one
//! row per output pixel — the padding taps take the zero point, which is
//! the byte of 0.0 — and multiplied on the int8 matrix kernels. Rows are
//! short (a 5x5 patch is 25 bytes), so unfolding bytes instead of floats,
//! and no transposes, is what makes this path pay where the direct one
//! (`direct.rs`) cannot run.

use super::{dequantize, Geometry, Rectify};
use crate::kernels::int8::{Kernel, QuantRows, QuantWeight};

/// `y` (`[S, N, Ho, Wo]`) of the samples `x` (`[S, C, H, W]`).
pub fn forward(
    x: &[f32],
    (w, bias): (&QuantWeight, &[f32]),
    n: usize,
    g: &Geometry,
    rectify: Rectify,
    y: &mut [f32],
) {
    let (ho, wo) = g.out_hw();
    let pixels = ho * wo;
    let in_len = g.channels * g.height * g.width;
    let kernel = Kernel::best();
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
        finish(&sums, ldc, &rows, (w, bias), rectify, yb);
        cols = rows.q;
    }
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
    (w, bias): (&QuantWeight, &[f32]),
    rectify: Rectify,
    y: &mut [f32],
) {
    let pixels = y.len() / w.rows;
    let (sx, z) = (rows.scales[0], rows.zeros[0]);
    let sums = w.weight_sums();
    for (j, plane) in y.chunks_mut(pixels).enumerate() {
        let (scale, offset, b) = (sx * w.scales[j], z * sums[j], bias[j]);
        for (p, out) in plane.iter_mut().enumerate() {
            *out = dequantize(c[p * ldc + j], offset, scale, b, rectify);
        }
    }
}
