//! Token embeddings: a row of the table per token.

use std::sync::Arc;

use dlwb_dsl::graph::param;

use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, source, TapeKind, Value};

#[derive(Debug, Clone, Copy)]
pub struct Embed {
    w: usize,
    dim: usize,
}

impl Embed {
    pub fn new(p: &ParamsOf<'_>, dim: usize) -> Self {
        Embed {
            w: p.get(param::WEIGHT),
            dim,
        }
    }

    /// Looks up a row of the table per token: `[B, T]` ids to `[B, T, D]`. The
    /// tape starts here; backward scatters into the table's gradient.
    pub fn forward<T: TapeKind>(
        &self,
        cx: &mut Ctx<'_>,
        ids: Arc<Vec<u32>>,
        batch: usize,
        steps: usize,
    ) -> Value<T> {
        let Embed { w, dim } = *self;
        let table = &cx.host[w];
        let mut y = Vec::with_capacity(ids.len() * dim);
        for &id in ids.iter() {
            y.extend_from_slice(&table[id as usize * dim..][..dim]);
        }
        let wg = cx.params.list[w].t.ghost();
        source(cx.dev, y, vec![batch, steps, dim], move |gy, grads| {
            let dw = grad_mut!(grads, &wg)?;
            for (k, &id) in ids.iter().enumerate() {
                let row = &mut dw[id as usize * dim..][..dim];
                row.iter_mut()
                    .zip(&gy[k * dim..][..dim])
                    .for_each(|(d, g)| *d += g);
            }
            Ok(())
        })
    }
}
