//! Layers that only move values: `flatten` and `last`.

use dlwb_dsl::graph::Node;

use super::{Build, Ctx, Forward, Layer, ParamsOf};
use crate::autograd::Value;
use crate::backend::{Backend, Result};

/// `[B, ...]` to `[B, N]`: the same data, seen flat.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flatten;

impl Build for dlwb_dsl::ops::reshape::Flatten {
    type Layer = Flatten;

    fn build<B: Backend>(&self, _: &Node, _: &ParamsOf<'_, B>, _: Vec<Layer>) -> Flatten {
        Flatten
    }
}

impl Forward for Flatten {
    fn forward<B: Backend>(&self, x: Value<B>, _: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let b = x.shape[0];
        let rest = x.len() / b.max(1);
        Ok(x.reshaped(vec![b, rest]))
    }
}

/// The final step of every sequence: `[B, T, F]` to `[B, F]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Last;

impl Build for dlwb_dsl::ops::reshape::Last {
    type Layer = Last;

    fn build<B: Backend>(&self, _: &Node, _: &ParamsOf<'_, B>, _: Vec<Layer>) -> Last {
        Last
    }
}

impl Forward for Last {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let (b, t, f) = (x.shape[0], x.shape[1], x.shape[2]);
        let y = cx.be.last_step(&x.buf, b, t)?;
        Ok(cx.rec.unary(x, y, vec![b, f], move |be, gy, _, want_dx| {
            want_dx
                .then(|| be.last_step_backward(&gy, b, t))
                .transpose()
        }))
    }
}
