//! Activations: fused into the layer before them, or as layers of their own.

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::Node;

use super::{Build, Ctx, Forward, Layer, ParamsOf};
use crate::autograd::Value;
use crate::backend::ops::Activated;
use crate::backend::{Backend, Result};
use crate::kernels::activation::needs_input;

/// Applies a fused activation in place; when the pass records, keeps what
/// its backward needs.
pub fn activate<B: Backend>(
    cx: &Ctx<'_, B>,
    act: Option<Activation>,
    y: &mut B::Buf,
    width: usize,
) -> Result<Option<Activated<B>>> {
    let Some(a) = act else {
        return Ok(None);
    };
    let keep = cx.rec.recording();
    let pre = (keep && needs_input(a)).then(|| y.clone());
    cx.be.activate(a, y, width)?;
    Ok(keep.then(|| Activated {
        activation: a,
        pre,
        out: y.clone(),
    }))
}

/// An activation as a layer of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActivationLayer(Activation);

impl Build for dlwb_dsl::ops::reshape::Activate {
    type Layer = ActivationLayer;

    fn build<B: Backend>(&self, _: &Node, _: &ParamsOf<'_, B>, _: Vec<Layer>) -> ActivationLayer {
        ActivationLayer(self.activation)
    }
}

impl Forward for ActivationLayer {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let width = *x.shape.last().unwrap();
        let mut y = x.buf.clone();
        let saved = activate(cx, Some(self.0), &mut y, width)?;
        let shape = x.shape.clone();
        Ok(cx.rec.unary(x, y, shape, move |be, mut g, _, want_dx| {
            if !want_dx {
                return Ok(None);
            }
            if let Some(s) = &saved {
                be.activate_backward(&mut g, s, width)?;
            }
            Ok(Some(g))
        }))
    }
}
