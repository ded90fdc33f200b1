//! Dropout, seeded per forward pass so that a resumed run draws the same
//! masks, on every backend: the mask is drawn on the host and uploaded.

use rand::Rng;

use dlwb_dsl::graph::Node;

use super::{Build, Ctx, Forward, Layer, ParamsOf};
use crate::autograd::Value;
use crate::backend::{Backend, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dropout {
    p: f32,
}

impl Build for dlwb_dsl::ops::reshape::Dropout {
    type Layer = Dropout;

    fn build<B: Backend>(&self, _: &Node, _: &ParamsOf<'_, B>, _: Vec<Layer>) -> Dropout {
        Dropout { p: self.p }
    }
}

impl Forward for Dropout {
    /// Inverted dropout: training scales survivors by `1 / (1 - p)`, so that
    /// evaluation is the identity.
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let Dropout { p } = *self;
        if !cx.train || p == 0.0 {
            return Ok(x);
        }
        let scale = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..x.len())
            .map(|_| if cx.rng.gen::<f32>() < p { 0.0 } else { scale })
            .collect();
        let mask = cx.be.upload(mask)?;
        let y = cx.be.mul(&x.buf, &mask)?;
        let shape = x.shape.clone();
        Ok(cx.rec.unary(x, y, shape, move |be, gy, _, want_dx| {
            want_dx.then(|| be.mul(&gy, &mask)).transpose()
        }))
    }
}
