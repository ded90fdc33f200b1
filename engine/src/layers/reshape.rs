//! Layers that only move values: `flatten` and `last`.

use super::Ctx;
use crate::autograd::{unary, TapeKind, Value};

/// `[B, ...]` to `[B, N]`: the same data, seen flat.
pub fn flatten<T: TapeKind>(x: Value<T>) -> Value<T> {
    let b = x.shape[0];
    let rest = x.len() / b.max(1);
    x.reshaped(vec![b, rest])
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
