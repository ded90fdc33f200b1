//! Convolution: each sample unfolded (im2col) and multiplied on its own
//! (`unfold.rs`), or, at stride 1 on AVX-512 or AVX2, computed directly
//! from shifted views of the input (`direct/`). The batch is shared between
//! threads.

mod direct;
mod int8;
mod unfold;

use super::{parts, workers};
pub use int8::{conv_forward_int8, conv_pool_forward_int8, Rectify};
pub use unfold::{col2im, im2col};

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

/// Samples per thread at least: a sample's product is already hundreds of
/// thousands of multiply-adds, so any batch is worth splitting.
const SAMPLES_PER_PART: usize = 1;

/// Forward convolution, `[B, C, H, W]` to `[B, N, Ho, Wo]`.
pub fn conv_forward(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    batch: usize,
    n: usize,
    g: &Geometry,
) -> Vec<f32> {
    let direct = direct::available(g, n);
    let (ho, wo) = g.out_hw();
    by_parts(x, batch, n * ho * wo, g, |x, y| {
        if direct {
            direct::forward(x, w, bias, n, g, y)
        } else {
            unfold::forward(x, w, bias, n, g, y)
        }
    })
}

/// A forward pass's output, `out_len` values per sample, the batch cut
/// into one part per thread and `part(x, y)` run on each part's samples.
fn by_parts(
    x: &[f32],
    batch: usize,
    out_len: usize,
    g: &Geometry,
    part: impl Fn(&[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let in_len = g.channels * g.height * g.width;
    let rows = parts::rows(batch, SAMPLES_PER_PART);
    let inputs = parts::chunks(x, &rows, in_len);
    parts::filled(&rows, out_len, inputs, |x, y| part(x, y))
}

/// Backward convolution: accumulates into `dw`, `db` and (if given) `dx`.
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
    let pixels = ho * wo;
    let in_len = g.channels * g.height * g.width;
    let rows = parts::rows(batch, SAMPLES_PER_PART);
    let direct = direct::available(g, n);
    let jobs = parts::chunks(gy, &rows, n * pixels)
        .into_iter()
        .zip(parts::chunks(x, &rows, in_len))
        .zip(parts::optional_chunks_mut(dx, &rows, in_len))
        .collect();
    let grads = workers::map(jobs, |((gy, x), dx)| {
        let (mut dw, mut db) = (vec![0.0; n * g.patch()], vec![0.0; n]);
        for sample in gy.chunks(n * pixels) {
            for (d, r) in db.iter_mut().zip(sample.chunks(pixels)) {
                *d += super::reduce::sum(r);
            }
        }
        if direct {
            direct::backward(gy, x, w, &mut dw, dx, n, g)
        } else {
            unfold::backward(gy, x, w, &mut dw, dx, n, g)
        }
        (dw, db)
    });
    for (pw, pb) in grads {
        parts::add_into(dw, &pw);
        parts::add_into(db, &pb);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::pool::max_pool;

    fn noise(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 7919 % 1013) as f32 - 506.0) / 300.0)
            .collect()
    }

    /// The direct kernels of every vector extension this CPU has against
    /// unfolding, for every product, on shapes with padding, odd sizes, one
    /// tap, more rows than a block holds and wide lengths that end
    /// mid-vector or at a whole number of passes.
    #[test]
    fn direct_convolution_matches_unfolding() {
        let one = Geometry {
            channels: 1,
            height: 1,
            width: 1,
            kernel: 1,
            stride: 1,
            pad: 0,
        };
        // Wide layers (here 128 x 128 x 3 x 3) unfold instead.
        let wide = Geometry {
            channels: 128,
            kernel: 3,
            ..one
        };
        assert!(!direct::available(&wide, 128));
        for isa in crate::kernels::packed::supported() {
            direct_matches_unfolding_on(isa);
        }
    }

    fn direct_matches_unfolding_on(isa: crate::kernels::packed::Isa) {
        let k = direct::Kernels::of(isa);
        for (channels, height, width, kernel, pad, n) in [
            (3, 32, 32, 5, 0, 6),
            (6, 14, 14, 5, 0, 16),
            (1, 28, 28, 5, 2, 6),
            (2, 7, 9, 3, 1, 13),
            (4, 5, 5, 1, 0, 3),
            (3, 6, 11, 3, 0, 25),
            (1, 2, 64, 1, 0, 7),
        ] {
            let g = Geometry {
                channels,
                height,
                width,
                kernel,
                stride: 1,
                pad,
            };
            let (ho, wo) = g.out_hw();
            let samples = 3;
            let x = noise(samples * channels * height * width, 1);
            let w = noise(n * g.patch(), 2);
            let b = noise(n, 3);
            let gy = noise(samples * n * ho * wo, 4);
            let (mut y0, mut y1) = (vec![0.0; gy.len()], vec![0.0; gy.len()]);
            unfold::forward(&x, &w, &b, n, &g, &mut y0);
            direct::forward_on(k, &x, &w, &b, n, &g, &mut y1);
            let close = |a: &[f32], b: &[f32], what: &str| {
                for (i, (p, q)) in a.iter().zip(b).enumerate() {
                    assert!(
                        (p - q).abs() < 1e-4 * (1.0 + p.abs()),
                        "{what} {g:?} n={n} on {isa:?} [{i}]: {p} vs {q}"
                    );
                }
            };
            close(&y0, &y1, "y");
            let (mut dw0, mut dw1) = (vec![0.5; w.len()], vec![0.5; w.len()]);
            let (mut dx0, mut dx1) = (vec![0.25; x.len()], vec![0.25; x.len()]);
            unfold::backward(&gy, &x, &w, &mut dw0, Some(&mut dx0), n, &g);
            direct::backward_on(k, &gy, &x, &w, &mut dw1, Some(&mut dx1), n, &g);
            close(&dw0, &dw1, "dW");
            close(&dx0, &dx1, "dx");
        }
    }

    /// Max pooling over enough planes to be shared between threads, with
    /// ties, a NaN and overlapping windows, against the definition.
    #[test]
    fn max_pool_matches_the_definition() {
        for (kernel, stride, width) in [(2, 2, 21), (2, 2, 70), (2, 2, 5), (3, 2, 21), (3, 1, 21)] {
            let g = Geometry {
                channels: 16,
                height: 9,
                width,
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
            let isas = crate::kernels::packed::supported().into_iter().map(Some);
            for isa in isas.chain([None]) {
                let values = crate::kernels::pool::max_pool_values_on(isa, &x, batch, &g);
                assert_eq!(values.len(), y.len());
                for (i, (a, b)) in values.iter().zip(&y).enumerate() {
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{isa:?} {g:?} [{i}]: {a} vs {b}"
                    );
                }
            }
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
