//! `residual { ... }`: the body's output added to its input.

use dlwb_dsl::graph::Node;

use super::{Build, Ctx, Forward, Layer, ParamsOf, S};
use crate::autograd::Value;
use crate::backend::{Backend, Result};

pub(crate) struct Residual {
    body: Vec<Layer>,
}

impl Build for dlwb_dsl::ops::residual::Residual<S> {
    type Layer = Residual;

    fn build<B: Backend>(&self, _: &Node, _: &ParamsOf<'_, B>, body: Vec<Layer>) -> Residual {
        Residual { body }
    }
}

impl Forward for Residual {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        // The skip is the same value (same id): both paths' gradients add
        // into it.
        let skip = x.clone();
        let mut y = x;
        for l in &self.body {
            y = l.forward(y, cx)?;
        }
        cx.rec.add(cx.be, y, skip)
    }
}
