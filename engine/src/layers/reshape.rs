//! Layers that only move values: `flatten` and `last`.

use super::Ctx;
use crate::autograd::Value;
use crate::backend::{Backend, Result};

/// `[B, ...]` to `[B, N]`: the same data, seen flat.
pub fn flatten<B: Backend>(x: Value<B>) -> Value<B> {
    let b = x.shape[0];
    let rest = x.len() / b.max(1);
    x.reshaped(vec![b, rest])
}

/// The final step of every sequence: `[B, T, F]` to `[B, F]`.
pub fn last<B: Backend>(x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
    let (b, t, f) = (x.shape[0], x.shape[1], x.shape[2]);
    let y = cx.be.last_step(&x.buf, b, t)?;
    Ok(cx.rec.unary(x, y, vec![b, f], move |be, gy, _, want_dx| {
        want_dx
            .then(|| be.last_step_backward(&gy, b, t))
            .transpose()
    }))
}
