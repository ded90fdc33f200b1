//! Activations: fused into the layer before them, or as layers of their own.

use dlwb_dsl::experiment::Activation;

use super::Ctx;
use crate::autograd::{unary, TapeKind, Value};
use crate::kernels::activation;

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

/// An activation as a layer of its own.
pub fn forward<T: TapeKind>(x: Value<T>, cx: &mut Ctx<'_>, a: Activation) -> Value<T> {
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
