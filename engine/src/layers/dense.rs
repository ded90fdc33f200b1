//! Dense layers, with a fused activation: `y = act(x · Wᵀ + b)` over the
//! last axis (every step of a sequence).

use dlwb_dsl::experiment::Activation;
use dlwb_dsl::graph::{param, Node};

use super::activation::apply_activation;
use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::activation;
use crate::kernels::matmul::{mat, mat_t, matmul, Out};

#[derive(Debug, Clone, Copy)]
pub struct Dense {
    w: usize,
    b: Option<usize>,
    fan_in: usize,
    units: usize,
    act: Option<Activation>,
}

impl Dense {
    pub fn new(n: &Node, p: &ParamsOf<'_>, units: usize) -> Self {
        Dense {
            w: p.get(param::WEIGHT),
            b: p.maybe(param::BIAS),
            fan_in: *n.input.dims().last().expect("a dense input has features"),
            units,
            act: n.activation,
        }
    }

    /// `y = act(x · Wᵀ + b)` over the last axis (every step of a sequence).
    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let Dense {
            w,
            b,
            fan_in,
            units,
            act,
        } = *self;
        let rows = x.len() / fan_in;
        let xs = x.host();
        let wd = cx.host[w].clone();
        let mut y = match cx.int8.and_then(|q| q.get(&w)) {
            Some(q) if !T::OWNS_TAPE => crate::compress::quantize::matmul_int8(&xs, rows, q),
            _ => {
                let wt = cx.transposed(w, units, fan_in);
                let mut y = vec![0.0; rows * units];
                wt.product(&mut y, mat(&xs), rows, Out::Overwrite);
                y
            }
        };
        if let Some(b) = b {
            for r in y.chunks_mut(units) {
                r.iter_mut()
                    .zip(cx.host[b].iter())
                    .for_each(|(y, b)| *y += b);
            }
        }
        let (pre, out) = apply_activation::<T>(act, &mut y, units);
        let mut shape = x.shape.clone();
        *shape.last_mut().unwrap() = units;
        let wg = cx.params.list[w].t.ghost();
        let bg = b.map(|b| cx.params.list[b].t.ghost());
        unary(cx.dev, x, y, shape, move |mut g, grads, want_dx| {
            if let Some(a) = act {
                activation::backward(a, &mut g, &out, pre.as_deref(), units);
            }
            matmul(
                grad_mut!(grads, &wg)?,
                mat_t(&g),
                mat(&xs),
                units,
                rows,
                fan_in,
                Out::Accumulate,
            );
            if let Some(bg) = bg {
                let db = grad_mut!(grads, &bg)?;
                for r in g.chunks(units) {
                    db.iter_mut().zip(r).for_each(|(d, v)| *d += v);
                }
            }
            Ok(want_dx.then(|| {
                let mut dx = vec![0.0; rows * fan_in];
                matmul(
                    &mut dx,
                    mat(&g),
                    mat(&wd),
                    rows,
                    units,
                    fan_in,
                    Out::Overwrite,
                );
                dx
            }))
        })
    }
}
