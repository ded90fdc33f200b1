//! Forward convolution through int8 weights (inference). Each sample is
//! quantized once to bytes with its own scale and zero point (the padding
//! takes the zero point, the byte of 0.0), its integer sums taken on the
//! CPU's dot-product instructions, and the sums rescaled to floats. At
//! stride 1 on AVX512-VNNI the sums come straight from the sample's bytes
//! (`direct.rs`); elsewhere from bytes unfolded per output pixel through
//! the int8 matrix kernels (`unfold.rs`). Both give the same sums, so the
//! same outputs.

mod direct;
mod unfold;
#[cfg(target_arch = "x86_64")]
mod vnni512;

use dlwb_dsl::experiment::Activation;

use direct::Pooled;

use super::{by_parts, Geometry};
use crate::kernels::int8::QuantWeight;

/// What the outputs get on their way out of the integer sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rectify {
    No,
    /// `max(y, 0)`, as a ReLU after the layer would give, without another
    /// pass over the outputs.
    Relu,
}

impl Rectify {
    /// What the kernel takes of a layer's activation, and what is left for
    /// the layer to apply.
    pub fn of(act: Option<Activation>) -> (Rectify, Option<Activation>) {
        match act {
            Some(Activation::Relu) => (Rectify::Relu, None),
            other => (Rectify::No, other),
        }
    }
}

/// `y` (`[B, N, Ho, Wo]`) of the samples `x` (`[B, C, H, W]`).
pub fn conv_forward_int8(
    x: &[f32],
    w: &QuantWeight,
    bias: &[f32],
    (batch, n): (usize, usize),
    g: &Geometry,
    rectify: Rectify,
) -> Vec<f32> {
    let (ho, wo) = g.out_hw();
    let out_len = n * ho * wo;
    if direct::available(g) {
        let plan = direct::Plan::new(w, n, g);
        let how = (rectify, Pooled::No);
        by_parts(x, batch, out_len, g, |x, y| {
            plan.forward(x, (w, bias), g, how, y)
        })
    } else {
        by_parts(x, batch, out_len, g, |x, y| {
            unfold::forward(x, (w, bias), n, g, rectify, y)
        })
    }
}

/// [`conv_forward_int8`] followed by a 2x2, stride-2 max pool, in one
/// pass where this CPU and geometry have the direct path (`None` where
/// not): `[B, N, Ho / 2, Wo / 2]`, the same values as the two apart.
pub fn conv_pool_forward_int8(
    x: &[f32],
    w: &QuantWeight,
    bias: &[f32],
    (batch, n): (usize, usize),
    g: &Geometry,
    rectify: Rectify,
) -> Option<Vec<f32>> {
    if !direct::available(g) {
        return None;
    }
    let plan = direct::Plan::new(w, n, g);
    let (ho, wo) = g.out_hw();
    let how = (rectify, Pooled::Max2x2);
    let out_len = n * (ho / 2) * (wo / 2);
    Some(by_parts(x, batch, out_len, g, |x, y| {
        plan.forward(x, (w, bias), g, how, y)
    }))
}

/// A sum back in the floats' units: `(sum - zero · Σw) · sx · sw + bias`,
/// then rectified; one expression for both paths, so that they agree to
/// the bit.
#[inline]
fn dequantize(sum: i32, offset: i32, scale: f32, bias: f32, rectify: Rectify) -> f32 {
    let y = (sum - offset) as f32 * scale + bias;
    match rectify {
        Rectify::No => y,
        Rectify::Relu => y.max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometries() -> [(Geometry, usize); 4] {
        [
            (1, 12, 5, 1, 2, 6),
            (3, 9, 3, 2, 1, 17),
            (2, 8, 4, 1, 0, 5),
            (6, 14, 5, 1, 0, 16),
        ]
        .map(|(channels, size, kernel, stride, pad, n)| {
            let g = Geometry {
                channels,
                height: size,
                width: size,
                kernel,
                stride,
                pad,
            };
            (g, n)
        })
    }

    fn operands(g: &Geometry, n: usize, batch: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let in_len = g.channels * g.height * g.width;
        let x = (0..batch * in_len)
            .map(|i| ((i * 7919 % 1013) as f32 - 400.0) / 300.0)
            .collect();
        let w = (0..n * g.patch())
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 60.0)
            .collect();
        let bias = (0..n).map(|i| i as f32 / 10.0).collect();
        (x, w, bias)
    }

    /// Both paths (direct where the CPU has it, unfolding otherwise) against
    /// the float convolution of the dequantized weights: within what the
    /// activations' 8 bits allow.
    #[test]
    fn the_int8_convolution_follows_the_float_one() {
        for (g, n) in geometries() {
            let batch = 3;
            let (x, wf, bias) = operands(&g, n, batch);
            let q = QuantWeight::quantize(&wf, n);
            let want = super::super::conv_forward(&x, &q.dequantize(), &bias, batch, n, &g);
            let got = conv_forward_int8(&x, &q, &bias, (batch, n), &g, Rectify::No);
            let rectified = conv_forward_int8(&x, &q, &bias, (batch, n), &g, Rectify::Relu);
            let relu: Vec<f32> = got.iter().map(|v| v.max(0.0)).collect();
            assert_eq!(rectified, relu, "{g:?}");
            assert_eq!(got.len(), want.len());
            let in_len = g.channels * g.height * g.width;
            let per_sample = want.len() / batch;
            for (b, (gs, ws)) in got
                .chunks(per_sample)
                .zip(want.chunks(per_sample))
                .enumerate()
            {
                // One activation step of this sample times the patch's weights.
                let xs = &x[b * in_len..][..in_len];
                let (lo, hi) = xs
                    .iter()
                    .fold((0f32, 0f32), |(a, c), v| (a.min(*v), c.max(*v)));
                let step = (hi - lo) / 255.0;
                let patch_abs = wf.iter().map(|v| v.abs()).fold(0.0, f32::max) * g.patch() as f32;
                for (a, e) in gs.iter().zip(ws) {
                    assert!(
                        (a - e).abs() <= step * patch_abs * 0.5 + 1e-4,
                        "{g:?}: {a} vs {e}"
                    );
                }
            }
        }
    }

    /// The fused pool gives the values of the convolution and the pool
    /// apart, to the bit, with odd output sizes (the last row and column
    /// left out) and rows longer than a vector.
    #[test]
    fn the_fused_pool_matches_the_two_apart() {
        let mut cases = geometries().to_vec();
        let wide = Geometry {
            channels: 2,
            height: 40,
            width: 41,
            kernel: 3,
            stride: 1,
            pad: 0,
        };
        cases.push((wide, 7));
        for (g, n) in cases {
            let batch = 3;
            let (x, wf, bias) = operands(&g, n, batch);
            let q = QuantWeight::quantize(&wf, n);
            for rectify in [Rectify::No, Rectify::Relu] {
                let Some(fused) = conv_pool_forward_int8(&x, &q, &bias, (batch, n), &g, rectify)
                else {
                    assert!(!direct::available(&g));
                    continue;
                };
                let y = conv_forward_int8(&x, &q, &bias, (batch, n), &g, rectify);
                let (ho, wo) = g.out_hw();
                let pool = Geometry {
                    channels: n,
                    height: ho,
                    width: wo,
                    kernel: 2,
                    stride: 2,
                    pad: 0,
                };
                let (apart, _) = crate::kernels::pool::max_pool(&y, batch, &pool);
                assert_eq!(fused, apart, "{g:?} {rectify:?}");
            }
        }
    }

    /// The direct path gives the unfolding path's outputs to the bit.
    #[test]
    fn direct_and_unfolding_agree_to_the_bit() {
        for (g, n) in geometries() {
            if !direct::available(&g) {
                continue;
            }
            let batch = 2;
            let (x, wf, bias) = operands(&g, n, batch);
            let q = QuantWeight::quantize(&wf, n);
            let (ho, wo) = g.out_hw();
            for rectify in [Rectify::No, Rectify::Relu] {
                let len = batch * n * ho * wo;
                let (mut a, mut b) = (vec![0.0; len], vec![0.0; len]);
                let how = (rectify, Pooled::No);
                direct::Plan::new(&q, n, &g).forward(&x, (&q, &bias), &g, how, &mut a);
                unfold::forward(&x, (&q, &bias), n, &g, rectify, &mut b);
                assert_eq!(a, b, "{g:?} {rectify:?}");
            }
        }
    }
}
