//! Convolution (with a fused activation) and pooling.

use dlwb_dsl::experiment::{Activation, PoolMode};

use super::dense::apply_activation;
use super::Ctx;
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::activation;
use crate::kernels::conv::{self as k, Geometry};

pub fn conv<T: TapeKind>(
    x: Value<T>,
    cx: &mut Ctx<'_>,
    w: usize,
    b: usize,
    filters: usize,
    g: Geometry,
    act: Option<Activation>,
) -> Value<T> {
    let batch = x.shape[0];
    let xs = x.host();
    let wd = cx.host[w].clone();
    let mut y = match cx.int8.and_then(|q| q.get(&w)) {
        Some(q) if !T::OWNS_TAPE => k::conv_forward_int8(&xs, q, &cx.host[b], batch, filters, &g),
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

pub fn pool<T: TapeKind>(x: Value<T>, cx: &mut Ctx<'_>, mode: PoolMode, g: Geometry) -> Value<T> {
    let batch = x.shape[0];
    let xs = x.host();
    let (ho, wo) = g.out_hw();
    let shape = vec![batch, g.channels, ho, wo];
    let in_len = x.len();
    match mode {
        PoolMode::Max => {
            let (y, arg) = crate::kernels::pool::max_pool(&xs, batch, &g);
            unary(cx.dev, x, y, shape, move |gy, _, want_dx| {
                Ok(want_dx.then(|| {
                    let mut dx = vec![0.0; in_len];
                    for (g, &i) in gy.iter().zip(&arg) {
                        dx[i as usize] += g;
                    }
                    dx
                }))
            })
        }
        PoolMode::Avg => {
            let y = crate::kernels::pool::avg_pool(&xs, batch, &g);
            unary(cx.dev, x, y, shape, move |gy, _, want_dx| {
                Ok(want_dx.then(|| {
                    let mut dx = vec![0.0; in_len];
                    crate::kernels::pool::avg_pool_backward(&gy, &mut dx, batch, &g);
                    dx
                }))
            })
        }
    }
}
