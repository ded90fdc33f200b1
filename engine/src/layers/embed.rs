//! Token embeddings: a row of the table per token.

use dlwb_dsl::graph::param;

use super::{Ctx, ParamsOf};
use crate::autograd::Value;
use crate::backend::{Backend, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Embed {
    w: usize,
    dim: usize,
}

impl Embed {
    pub fn new<B: Backend>(p: &ParamsOf<'_, B>, dim: usize) -> Self {
        Embed {
            w: p.get(param::WEIGHT),
            dim,
        }
    }

    /// Looks up a row of the table per token: `[B, T]` ids to `[B, T, D]`. The
    /// tape starts here; backward scatters into the table's gradient.
    pub fn forward<B: Backend>(
        &self,
        cx: &mut Ctx<'_, B>,
        ids: &[u32],
        batch: usize,
        steps: usize,
    ) -> Result<Value<B>> {
        let Embed { w, dim } = *self;
        let ids = cx.be.upload_ids(ids)?;
        let y = cx.be.gather(cx.param(w), &ids, dim)?;
        let (wid, w_len) = (cx.id(w), cx.be.len(cx.param(w)));
        Ok(cx
            .rec
            .source(y, vec![batch, steps, dim], move |be, gy, grads| {
                be.scatter_add(grads.slot(be, wid, w_len)?, &ids, &gy, dim)
            }))
    }
}
