//! Convolution, with a fused activation.

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::{param, Node};

use super::activation::activate;
use super::pool::Pool;
use super::{window, Build, Ctx, Forward, Layer, ParamsOf, S};
use crate::autograd::Value;
use crate::backend::ops::{ConvGrads, Window};
use crate::backend::{Backend, Result};
use crate::kernels::conv::Geometry;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv {
    w: usize,
    b: usize,
    filters: usize,
    geom: Geometry,
    act: Option<Activation>,
}

impl Build for dlwb_dsl::ops::conv::Conv<S> {
    type Layer = Conv;

    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> Conv {
        let geom = window(n, self.kernel, self.stride, self.pad);
        Conv::new(n, p, self.filters, geom)
    }
}

impl Conv {
    fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, filters: usize, geom: Geometry) -> Self {
        Conv {
            w: p.get(param::WEIGHT),
            b: p.get(param::BIAS),
            filters,
            geom,
            act: n.activation,
        }
    }
}

impl Conv {
    /// This layer and the 2x2, stride-2 max pool after it in one pass,
    /// where the backend has a kernel for both: inference through int8
    /// weights. `None` where it has not.
    pub(crate) fn forward_pooled<B: Backend>(
        &self,
        x: &Value<B>,
        pool: &Pool,
        cx: &mut Ctx<'_, B>,
    ) -> Result<Option<Value<B>>> {
        let Some(q) = cx.int8.and_then(|q| q.get(&self.w)) else {
            return Ok(None);
        };
        if cx.rec.recording() || !pool.is_max_2x2() {
            return Ok(None);
        }
        let at = Window {
            batch: x.shape[0],
            geom: self.geom,
        };
        let b = cx.param(self.b);
        let Some(y) = cx
            .be
            .conv_int8_pooled(&x.buf, q, b, (self.filters, at), self.act)?
        else {
            return Ok(None);
        };
        let (ho, wo) = self.geom.out_hw();
        let shape = vec![at.batch, self.filters, ho / 2, wo / 2];
        Ok(Some(
            cx.rec.unary(x.clone(), y, shape, |_, _, _, _| Ok(None)),
        ))
    }
}

impl Forward for Conv {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let Conv {
            w,
            b,
            filters,
            geom,
            act,
        } = *self;
        let be = cx.be;
        let at = Window {
            batch: x.shape[0],
            geom,
        };
        let (mut y, act) = match cx.int8.and_then(|q| q.get(&w)) {
            Some(q) if !cx.rec.recording() => {
                be.conv_int8(&x.buf, q, cx.param(b), (filters, at), act)?
            }
            _ => (be.conv(&x.buf, cx.param(w), cx.param(b), filters, at)?, act),
        };
        let (ho, wo) = geom.out_hw();
        let saved = activate(cx, act, &mut y, ho * wo)?;
        let (xs, wd) = (x.buf.clone(), cx.param(w).clone());
        let (wid, bid) = (cx.id(w), cx.id(b));
        let (w_len, in_len) = (be.len(&wd), x.len());
        let shape = vec![at.batch, filters, ho, wo];
        Ok(cx
            .rec
            .unary(x, y, shape, move |be, mut gy, grads, want_dx| {
                if let Some(s) = &saved {
                    be.activate_backward(&mut gy, s, ho * wo)?;
                }
                let mut dx = if want_dx {
                    Some(be.zeros(in_len)?)
                } else {
                    None
                };
                let ids = [(wid, w_len), (bid, filters)];
                let [mut dw, mut db] = grads.take_slots(be, ids)?;
                let to = ConvGrads {
                    weight: &mut dw,
                    bias: &mut db,
                    input: dx.as_mut(),
                };
                let done = be.conv_backward(&gy, &xs, &wd, to, filters, at);
                grads.put_slots(ids, [dw, db]);
                done.map(|()| dx)
            }))
    }
}
