//! Max and average pooling.

use dlwb_dsl::experiment::PoolMode;

use super::Ctx;
use crate::autograd::{unary, TapeKind, Value};
use crate::kernels::conv::Geometry;

#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub mode: PoolMode,
    pub geom: Geometry,
}

impl Pool {
    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let Pool { mode, geom: g } = *self;
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
}
