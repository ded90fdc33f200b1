//! Batch normalization (per channel, with running statistics) and layer
//! normalization (per row of the last axis).

use dlwb_dsl::graph::{param, Node, Shape};

use super::{Build, Ctx, Forward, Layer, ParamsOf};
use crate::autograd::{Grads, Id, Value};
use crate::backend::ops::{Channels, Moments, NormGrads};
use crate::backend::{Backend, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchNorm {
    /// `[weight, bias, running_mean, running_var]`.
    p: [usize; 4],
    momentum: f32,
    eps: f32,
    groups: Channels,
}

impl Build for dlwb_dsl::ops::norm::BatchNorm {
    type Layer = BatchNorm;

    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> BatchNorm {
        BatchNorm::new(n, p, self.momentum, self.eps)
    }
}

impl BatchNorm {
    fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, momentum: f32, eps: f32) -> Self {
        let (channels, inner) = match n.input {
            Shape::Image {
                channels,
                height,
                width,
            } => (channels, height * width),
            other => (*other.dims().last().expect("normalized features"), 1),
        };
        BatchNorm {
            p: [
                param::WEIGHT,
                param::BIAS,
                param::RUNNING_MEAN,
                param::RUNNING_VAR,
            ]
            .map(|short| p.get(short)),
            momentum,
            eps,
            groups: Channels { channels, inner },
        }
    }

    /// Training normalizes with the batch's statistics and moves the
    /// running ones toward them; evaluation uses the running ones.
    fn statistics<B: Backend>(&self, x: &Value<B>, cx: &mut Ctx<'_, B>) -> Result<Moments<B>> {
        let [_, _, mean, var] = self.p;
        if !cx.train {
            return Ok(Moments {
                mean: cx.param(mean).clone(),
                var: cx.param(var).clone(),
            });
        }
        let m = cx.be.moments(&x.buf, self.groups)?;
        let count = (x.len() / self.groups.channels) as f64;
        // PyTorch keeps the unbiased variance in its running estimate.
        let unbias = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        let rm = cx
            .be
            .running_update(cx.param(mean), &m.mean, self.momentum, 1.0)?;
        let rv = cx
            .be
            .running_update(cx.param(var), &m.var, self.momentum, unbias)?;
        cx.updates.push((mean, rm));
        cx.updates.push((var, rv));
        Ok(m)
    }
}

impl Forward for BatchNorm {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let [w, b, ..] = self.p;
        let stats = self.statistics(&x, cx)?;
        let n = cx.be.batch_norm(
            &x.buf,
            &stats,
            cx.param(w),
            cx.param(b),
            self.eps,
            self.groups,
        )?;
        let (saved, gamma, groups, train) = (n.saved, cx.param(w).clone(), self.groups, cx.train);
        let ids = affine(cx, w, b);
        let shape = x.shape.clone();
        Ok(cx.rec.unary(x, n.y, shape, move |be, gy, grads, want_dx| {
            with_affine(be, grads, ids, |to| {
                be.batch_norm_backward(&gy, &saved, &gamma, groups, train, to, want_dx)
            })
        }))
    }
}

/// The ids and lengths of a normalization's weight and bias.
type Affine = [(Id, usize); 2];

fn affine<B: Backend>(cx: &Ctx<'_, B>, w: usize, b: usize) -> Affine {
    [w, b].map(|i| (cx.id(i), cx.be.len(cx.param(i))))
}

/// Runs `f` with the weight's and bias's gradients to add into.
fn with_affine<B: Backend, T>(
    be: &B,
    grads: &mut Grads<B>,
    ids: Affine,
    f: impl FnOnce(NormGrads<'_, B>) -> Result<T>,
) -> Result<T> {
    let [mut dw, mut db] = grads.take_slots(be, ids)?;
    let out = f(NormGrads {
        weight: &mut dw,
        bias: &mut db,
    });
    grads.put_slots(ids, [dw, db]);
    out
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerNorm {
    w: usize,
    b: usize,
    eps: f32,
    width: usize,
}

impl Build for dlwb_dsl::ops::norm::LayerNorm {
    type Layer = LayerNorm;

    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> LayerNorm {
        LayerNorm::new(n, p, self.eps)
    }
}

impl LayerNorm {
    fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, eps: f32) -> Self {
        LayerNorm {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            eps,
            width: *n.input.dims().last().expect("normalized features"),
        }
    }
}

impl Forward for LayerNorm {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let LayerNorm { w, b, eps, width } = *self;
        let n = cx
            .be
            .layer_norm(&x.buf, cx.param(w), cx.param(b), eps, width)?;
        let (saved, gamma) = (n.saved, cx.param(w).clone());
        let ids = affine(cx, w, b);
        let shape = x.shape.clone();
        Ok(cx.rec.unary(x, n.y, shape, move |be, gy, grads, want_dx| {
            with_affine(be, grads, ids, |to| {
                be.layer_norm_backward(&gy, &saved, &gamma, width, to, want_dx)
            })
        }))
    }
}
