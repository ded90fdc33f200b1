//! Token embeddings: a row of the table per token.

use std::sync::Arc;

use dfdx::tensor::{PutTape, TensorFromVec};
use dlwb_dsl::graph::param;

use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, TapeKind, Value};

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
        let n = y.len();
        let yt = cx.dev.tensor_from_vec(y, (n,));
        let mut tape = T::default();
        if T::OWNS_TAPE {
            let (yg, wg) = (yt.ghost(), cx.params.list[w].t.ghost());
            tape.add_backward_op(move |grads| {
                let gy: Vec<f32> = grads.get_or_alloc_mut(&yg)?.to_vec();
                let dw = grad_mut!(grads, &wg)?;
                for (k, &id) in ids.iter().enumerate() {
                    let row = &mut dw[id as usize * dim..][..dim];
                    row.iter_mut()
                        .zip(&gy[k * dim..][..dim])
                        .for_each(|(d, g)| *d += g);
                }
                Ok(())
            });
        }
        Value {
            t: yt.put_tape(tape),
            shape: vec![batch, steps, dim],
            needs_grad: true,
        }
    }
}
