//! Activations, applied in place, with derivatives from what the forward
//! pass kept (the output for most; the input for GELU).

use dlwb_dsl::experiment::Activation;
use multiversion::multiversion;

/// What the backward pass of an activation needs.
pub fn needs_input(a: Activation) -> bool {
    matches!(a, Activation::Gelu)
}

/// Values per thread at least before an activation is shared between
/// threads: below this, waking a helper costs more than the pass saves.
const VALUES_PER_PART: usize = 1 << 15;

/// The rows of each part of a buffer of `len` values in rows of `width`
/// (one part if the rows are not whole).
fn row_parts(len: usize, width: usize) -> Vec<usize> {
    let width = width.max(1);
    match len % width {
        0 => super::parts::rows(len / width, VALUES_PER_PART.div_ceil(width)),
        _ => vec![1],
    }
}

/// [`forward`] with the rows shared between threads.
pub fn forward_in_parts(a: Activation, x: &mut [f32], width: usize) {
    let rows = row_parts(x.len(), width);
    if rows.len() == 1 {
        return forward(a, x, width);
    }
    let chunks = super::parts::chunks_mut(x, &rows, width.max(1));
    super::workers::each(chunks, |x| forward(a, x, width));
}

/// [`backward`] with the rows shared between threads.
pub fn backward_in_parts(a: Activation, g: &mut [f32], y: &[f32], x: Option<&[f32]>, width: usize) {
    let rows = row_parts(g.len(), width);
    if rows.len() == 1 {
        return backward(a, g, y, x, width);
    }
    let w = width.max(1);
    let jobs = super::parts::chunks_mut(g, &rows, w)
        .into_iter()
        .zip(super::parts::chunks(y, &rows, w))
        .zip(match x {
            Some(x) => super::parts::chunks(x, &rows, w)
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None; rows.len()],
        })
        .collect();
    super::workers::each(jobs, |((g, y), x)| backward(a, g, y, x, width));
}

/// Applies `a` in place to rows of `width` (softmax is per row).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub fn forward(a: Activation, x: &mut [f32], width: usize) {
    match a {
        Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::LeakyRelu { slope } => x.iter_mut().for_each(|v| {
            if *v < 0.0 {
                *v *= slope
            }
        }),
        Activation::Sigmoid => super::fastmath::sigmoid_slice(x),
        Activation::Tanh => super::fastmath::tanh_slice(x),
        Activation::Gelu => x
            .iter_mut()
            .for_each(|v| *v = 0.5 * *v * (1.0 + erf(*v / std::f32::consts::SQRT_2))),
        Activation::Softmax => x.chunks_mut(width).for_each(softmax_row),
    }
}

/// Turns `g` (gradient of the output) into the gradient of the input, in
/// place. `y` is the output; `x` the input (only GELU reads it).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx512dq+fma", "x86_64+avx2+fma"))]
pub fn backward(a: Activation, g: &mut [f32], y: &[f32], x: Option<&[f32]>, width: usize) {
    match a {
        // Selects rather than conditional stores, so that these vectorize.
        Activation::Relu => g
            .iter_mut()
            .zip(y)
            .for_each(|(g, y)| *g = if *y > 0.0 { *g } else { 0.0 }),
        Activation::LeakyRelu { slope } => g.iter_mut().zip(y).for_each(|(g, y)| {
            let scaled = *y < 0.0 || (*y == 0.0 && slope == 0.0);
            *g = if scaled { *g * slope } else { *g }
        }),
        Activation::Sigmoid => g.iter_mut().zip(y).for_each(|(g, y)| *g *= y * (1.0 - y)),
        Activation::Tanh => g.iter_mut().zip(y).for_each(|(g, y)| *g *= 1.0 - y * y),
        Activation::Gelu => {
            let x = x.expect("GELU's backward reads its input");
            let c = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
            g.iter_mut().zip(x).for_each(|(g, x)| {
                let cdf = 0.5 * (1.0 + erf(x / std::f32::consts::SQRT_2));
                let pdf = c * (-0.5 * x * x).exp();
                *g *= cdf + x * pdf;
            })
        }
        Activation::Softmax => {
            for (g, y) in g.chunks_mut(width).zip(y.chunks(width)) {
                let dot: f32 = g.iter().zip(y).map(|(a, b)| a * b).sum();
                g.iter_mut().zip(y).for_each(|(g, y)| *g = y * (*g - dot));
            }
        }
    }
}

pub fn sigmoid(v: f32) -> f32 {
    super::fastmath::sigmoid(v)
}

pub fn softmax_row(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = super::fastmath::exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// The error function, to within 1.2e-7 (Numerical Recipes' erfc
/// Chebyshev fit), computed in f64.
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    (if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
            (3.0, 0.999_977_9),
        ] {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }
}
