//! Max and average pooling.

use dlwb_dsl::experiment::PoolMode;

use dlwb_dsl::graph::Node;

use super::{window, Build, Ctx, Forward, Layer, ParamsOf};
use crate::autograd::Value;
use crate::backend::ops::Window;
use crate::backend::{Backend, Result};
use crate::kernels::conv::Geometry;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    mode: PoolMode,
    geom: Geometry,
}

impl Build for dlwb_dsl::ops::pool::Pool {
    type Layer = Pool;

    fn build<B: Backend>(&self, n: &Node, _: &ParamsOf<'_, B>, _: Vec<Layer>) -> Pool {
        Pool {
            mode: self.mode,
            geom: window(n, self.kernel, self.stride, 0),
        }
    }
}

impl Pool {
    /// Whether this is a 2x2 max pool at stride 2, the one int8
    /// convolutions fuse.
    pub(crate) fn is_max_2x2(&self) -> bool {
        matches!(self.mode, PoolMode::Max) && self.geom.kernel == 2 && self.geom.stride == 2
    }
}

impl Forward for Pool {
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
        let Pool { mode, geom } = *self;
        let at = Window {
            batch: x.shape[0],
            geom,
        };
        let (ho, wo) = geom.out_hw();
        let shape = vec![at.batch, geom.channels, ho, wo];
        let in_len = x.len();
        Ok(match mode {
            PoolMode::Max if !cx.rec.recording() => {
                let y = cx.be.max_pool_values(&x.buf, at)?;
                cx.rec.unary(x, y, shape, |_, _, _, _| Ok(None))
            }
            PoolMode::Max => {
                let (y, arg) = cx.be.max_pool(&x.buf, at)?;
                cx.rec.unary(x, y, shape, move |be, gy, _, want_dx| {
                    want_dx
                        .then(|| be.max_pool_backward(&gy, &arg, at, in_len))
                        .transpose()
                })
            }
            PoolMode::Avg => {
                let y = cx.be.avg_pool(&x.buf, at)?;
                cx.rec.unary(x, y, shape, move |be, gy, _, want_dx| {
                    want_dx
                        .then(|| be.avg_pool_backward(&gy, at, in_len))
                        .transpose()
                })
            }
        })
    }
}
