//! Dense layers, with a fused activation: `y = act(x · Wᵀ + b)` over the
//! last axis (every step of a sequence).

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::{param, Node};

use super::activation::activate;
use super::{Build, Ctx, Forward, Layer, ParamsOf, S};
use crate::autograd::Value;
use crate::backend::ops::{Mnk, Operand};
use crate::backend::{Backend, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Dense {
    w: usize,
    b: Option<usize>,
    fan_in: usize,
    units: usize,
    act: Option<Activation>,
}

impl Build for dlwb_dsl::ops::dense::Dense<S> {
    type Layer = Dense;

    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> Dense {
        Dense::new(n, p, self.units)
    }
}

impl Dense {
    fn new<B: Backend>(n: &Node, p: &ParamsOf<'_, B>, units: usize) -> Self {
        Dense {
            w: p.get(param::WEIGHT),
            b: p.maybe(param::BIAS),
            fan_in: *n.input.dims().last().expect("a dense input has features"),
            units,
            act: n.activation,
        }
    }
}

impl Forward for Dense {
    /// `y = act(x · Wᵀ + b)` over the last axis (every step of a sequence).
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let Dense {
            w,
            b,
            fan_in,
            units,
            act,
        } = *self;
        let be = cx.be;
        let rows = x.len() / fan_in;
        let inference = !cx.rec.recording();
        let int8 = cx.int8.and_then(|q| q.get(&w)).filter(|_| inference);
        let sparse = cx.sparse.and_then(|s| s.get(&w)).filter(|_| inference);
        let mut y = match (int8, sparse) {
            (Some(q), _) => be.product_int8(&x.buf, rows, q)?,
            (None, Some(s)) => be.product_sparse(&x.buf, rows, s)?,
            // A training step multiplies by its weights once. Packed up
            // front (`transposed`), they are packed by one thread and read
            // by all; the plain product splits the output features, and
            // each thread packs only its own features' weights. Where the
            // optimizer's chunks cut the same rows (both halve a weight on
            // two threads), those are the weights that thread just updated,
            // so on cores that share no cache they never cross (MLP
            // training, 2 threads, AMD EPYC VM in that state: 110k
            // samples/s before, 175k after).
            _ if !inference => {
                let mnk = Mnk {
                    m: rows,
                    k: fan_in,
                    n: units,
                };
                let (x, w) = (Operand::plain(&x.buf), Operand::transposed(cx.param(w)));
                be.matmul_new(x, w, mnk)?
            }
            _ => be.product(&x.buf, rows, &*cx.transposed(w, units, fan_in)?)?,
        };
        if let Some(b) = b {
            be.add_bias(&mut y, cx.param(b))?;
        }
        let saved = activate(cx, act, &mut y, units)?;
        let mut shape = x.shape.clone();
        *shape.last_mut().unwrap() = units;
        let (xs, wd, wid) = (x.buf.clone(), cx.param(w).clone(), cx.id(w));
        let bid = b.map(|b| cx.id(b));
        Ok(cx.rec.unary(x, y, shape, move |be, mut g, grads, want_dx| {
            if let Some(s) = &saved {
                be.activate_backward(&mut g, s, units)?;
            }
            let mnk = Mnk {
                m: units,
                k: rows,
                n: fan_in,
            };
            grads.write_or_add(be, (wid, units * fan_in), |dw, out| {
                be.matmul(dw, Operand::transposed(&g), Operand::plain(&xs), mnk, out)
            })?;
            if let Some(bid) = bid {
                be.add_column_sums(grads.slot(be, bid, units)?, &g)?;
            }
            if !want_dx {
                return Ok(None);
            }
            let mnk = Mnk {
                m: rows,
                k: units,
                n: fan_in,
            };
            Ok(Some(be.matmul_new(
                Operand::plain(&g),
                Operand::plain(&wd),
                mnk,
            )?))
        }))
    }
}
