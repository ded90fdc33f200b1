//! Convolution, with a fused activation.

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::{param, Node};

use super::activation::apply_activation;
use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::activation;
use crate::kernels::conv::{self as k, Geometry};

#[derive(Debug, Clone, Copy)]
pub struct Conv {
    w: usize,
    b: usize,
    filters: usize,
    geom: Geometry,
    act: Option<Activation>,
}

impl Conv {
    pub fn new(n: &Node, p: &ParamsOf<'_>, filters: usize, geom: Geometry) -> Self {
        Conv {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            filters,
            geom,
            act: n.activation,
        }
    }

    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let Conv {
            w,
            b,
            filters,
            geom: g,
            act,
        } = *self;
        let batch = x.shape[0];
        let xs = x.host();
        let wd = cx.host[w].clone();
        let mut y = match cx.int8.and_then(|q| q.get(&w)) {
            Some(q) if !T::OWNS_TAPE => {
                k::conv_forward_int8(&xs, q, &cx.host[b], batch, filters, &g)
            }
            _ => k::conv_forward(&xs, &wd, &cx.host[b], batch, filters, &g),
        };
        let (ho, wo) = g.out_hw();
        let (pre, out) = apply_activation::<T>(act, &mut y, ho * wo);
        let (wg, bg) = (cx.params.list[w].t.ghost(), cx.params.list[b].t.ghost());
        let in_len = x.len();
        unary(
            cx.dev,
            x,
            y,
            vec![batch, filters, ho, wo],
            move |mut gy, grads, want_dx| {
                if let Some(a) = act {
                    activation::backward(a, &mut gy, &out, pre.as_deref(), ho * wo);
                }
                let mut dx = want_dx.then(|| vec![0.0; in_len]);
                let mut db = vec![0.0; filters];
                k::conv_backward(
                    &gy,
                    &xs,
                    &wd,
                    grad_mut!(grads, &wg)?,
                    &mut db,
                    dx.as_deref_mut(),
                    batch,
                    filters,
                    &g,
                );
                grad_mut!(grads, &bg)?
                    .iter_mut()
                    .zip(&db)
                    .for_each(|(d, v)| *d += v);
                Ok(dx)
            },
        )
    }
}
