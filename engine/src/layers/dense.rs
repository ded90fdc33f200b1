//! Dense layers (with a fused activation), standalone activations,
//! dropout, and `last`.

use dlwb_dsl::experiment::Activation;
use rand::Rng;

use super::Ctx;
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::activation;
use crate::kernels::matmul::{mat, mat_t, matmul};

/// `y = act(x · Wᵀ + b)` over the last axis (every step of a sequence).
pub fn dense<T: TapeKind>(
    x: Value<T>,
    cx: &mut Ctx<'_>,
    w: usize,
    b: Option<usize>,
    fan_in: usize,
    units: usize,
    act: Option<Activation>,
) -> Value<T> {
    let rows = x.len() / fan_in;
    let xs = x.host();
    let wd = cx.host[w].clone();
    let mut y = match cx.int8.and_then(|q| q.get(&w)) {
        Some(q) if !T::OWNS_TAPE => crate::compress::quantize::matmul_int8(&xs, rows, q),
        _ => {
            let wt = cx.transposed(w, units, fan_in);
            let mut y = vec![0.0; rows * units];
            wt.product(&mut y, mat(&xs), rows, false);
            y
        }
    };
    if let Some(b) = b {
        for r in y.chunks_mut(units) {
            r.iter_mut()
                .zip(cx.host[b].iter())
                .for_each(|(y, b)| *y += b);
        }
    }
    let (pre, out) = apply_activation::<T>(act, &mut y, units);
    let mut shape = x.shape.clone();
    *shape.last_mut().unwrap() = units;
    let wg = cx.params.list[w].t.ghost();
    let bg = b.map(|b| cx.params.list[b].t.ghost());
    unary(cx.dev, x, y, shape, move |mut g, grads, want_dx| {
        if let Some(a) = act {
            activation::backward(a, &mut g, &out, pre.as_deref(), units);
        }
        matmul(
            grad_mut!(grads, &wg)?,
            mat_t(&g),
            mat(&xs),
            units,
            rows,
            fan_in,
            true,
        );
        if let Some(bg) = bg {
            let db = grad_mut!(grads, &bg)?;
            for r in g.chunks(units) {
                db.iter_mut().zip(r).for_each(|(d, v)| *d += v);
            }
        }
        Ok(want_dx.then(|| {
            let mut dx = vec![0.0; rows * fan_in];
            matmul(&mut dx, mat(&g), mat(&wd), rows, units, fan_in, false);
            dx
        }))
    })
}

/// Applies a fused activation in place and keeps what its backward needs:
/// (the input, for GELU; the output).
pub fn apply_activation<T: TapeKind>(
    act: Option<Activation>,
    y: &mut [f32],
    width: usize,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let Some(a) = act else {
        return (None, Vec::new());
    };
    let pre = (T::OWNS_TAPE && activation::needs_input(a)).then(|| y.to_vec());
    activation::forward(a, y, width);
    let out = if T::OWNS_TAPE { y.to_vec() } else { Vec::new() };
    (pre, out)
}

pub fn activation<T: TapeKind>(x: Value<T>, cx: &mut Ctx<'_>, a: Activation) -> Value<T> {
    let width = *x.shape.last().unwrap();
    let mut y = x.host();
    let (pre, out) = apply_activation::<T>(Some(a), &mut y, width);
    let shape = x.shape.clone();
    unary(cx.dev, x, y, shape, move |mut g, _, want_dx| {
        Ok(want_dx.then(|| {
            activation::backward(a, &mut g, &out, pre.as_deref(), width);
            g
        }))
    })
}

/// Inverted dropout: training scales survivors by `1 / (1 - p)`, so that
/// evaluation is the identity.
pub fn dropout<T: TapeKind>(x: Value<T>, cx: &mut Ctx<'_>, p: f32) -> Value<T> {
    if !cx.train || p == 0.0 {
        return x;
    }
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.len())
        .map(|_| if cx.rng.gen::<f32>() < p { 0.0 } else { scale })
        .collect();
    let mut y = x.host();
    y.iter_mut().zip(&mask).for_each(|(y, m)| *y *= m);
    let shape = x.shape.clone();
    unary(cx.dev, x, y, shape, move |gy, _, want_dx| {
        Ok(want_dx.then(|| gy.iter().zip(&mask).map(|(g, m)| g * m).collect()))
    })
}

/// The final step of every sequence: `[B, T, F]` to `[B, F]`.
pub fn last<T: TapeKind>(x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
    let (b, t, f) = (x.shape[0], x.shape[1], x.shape[2]);
    let xs = x.host();
    let y: Vec<f32> = (0..b)
        .flat_map(|i| xs[(i * t + t - 1) * f..][..f].to_vec())
        .collect();
    unary(cx.dev, x, y, vec![b, f], move |gy, _, want_dx| {
        Ok(want_dx.then(|| {
            let mut dx = vec![0.0; b * t * f];
            for i in 0..b {
                dx[(i * t + t - 1) * f..][..f].copy_from_slice(&gy[i * f..][..f]);
            }
            dx
        }))
    })
}
