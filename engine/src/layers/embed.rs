//! Token embeddings: a row of the table per token.

use dlwb_dsl::graph::param;

use dlwb_dsl::graph::Node;

use super::{Build, Ctx, Forward, Input, Layer, ParamsOf, S};
use crate::autograd::Value;
use crate::backend::{Backend, Result};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Embed {
    w: usize,
    dim: usize,
}

impl Build for dlwb_dsl::ops::embed::Embed<S> {
    type Layer = Embed;

    fn build<B: Backend>(&self, _: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> Embed {
        Embed {
            w: p.get(param::WEIGHT),
            dim: self.dim,
        }
    }
}

impl Forward for Embed {
    fn forward<B: Backend>(&self, _: Value<B>, _: &mut Ctx<'_, B>) -> Result<Value<B>> {
        unreachable!("checked: embed is first and reads tokens")
    }

    /// Looks up a row of the table per token: `[B, T]` ids to `[B, T, D]`. The
    /// tape starts here; backward scatters into the table's gradient.
    fn forward_input<B: Backend>(
        &self,
        input: Input<'_, B>,
        cx: &mut Ctx<'_, B>,
    ) -> Result<Value<B>> {
        let Input::Tokens { ids, batch, steps } = input else {
            unreachable!("checked: embed reads tokens")
        };
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
