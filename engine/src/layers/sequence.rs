//! Token embeddings and recurrent layers.

use std::sync::Arc;

use dfdx::tensor::{PutTape, TensorFromVec};
use dlwb_dsl::experiment::Cell;

use super::Ctx;
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::recurrent::{self as rec, Dims, Grads as CellGrads, Weights};

/// Looks up a row of the table per token: `[B, T]` ids to `[B, T, D]`. The
/// tape starts here; backward scatters into the table's gradient.
pub fn embed<T: TapeKind>(
    cx: &mut Ctx<'_>,
    w: usize,
    dim: usize,
    ids: Arc<Vec<u32>>,
    batch: usize,
    steps: usize,
) -> Value<T> {
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

/// `[B, T, F]` to `[B, T, H]`, or `[B, H]` with `last`.
pub fn recurrent<T: TapeKind>(
    x: Value<T>,
    cx: &mut Ctx<'_>,
    cell: Cell,
    p: [usize; 4],
    input: usize,
    hidden: usize,
    last: bool,
) -> Value<T> {
    let (batch, steps) = (x.shape[0], x.shape[1]);
    let d = Dims {
        batch,
        steps,
        input,
        hidden,
    };
    let xs = x.host();
    let host: [Arc<Vec<f32>>; 4] = p.map(|i| cx.host[i].clone());
    let w = Weights {
        w_ih: &host[0],
        w_hh: &host[1],
        b_ih: &host[2],
        b_hh: &host[3],
    };
    let g = cell.gates() * hidden;
    let (w_ih_t, w_hh_t) = (
        cx.transposed(p[0], g, input),
        cx.transposed(p[1], g, hidden),
    );
    let wt = rec::Transposed {
        w_ih: &w_ih_t,
        w_hh: &w_hh_t,
    };
    let (out, saved) = rec::forward(cell, d, &xs, &w, &wt, T::OWNS_TAPE);
    let (y, shape) = if last {
        let y = (0..batch)
            .flat_map(|b| out[(b * steps + steps - 1) * hidden..][..hidden].to_vec())
            .collect();
        (y, vec![batch, hidden])
    } else {
        (out, vec![batch, steps, hidden])
    };
    let ghosts = p.map(|i| cx.params.list[i].t.ghost());
    unary(cx.dev, x, y, shape, move |gy, grads, want_dx| {
        let gy = if last {
            let mut g = vec![0.0; batch * steps * hidden];
            for b in 0..batch {
                g[(b * steps + steps - 1) * hidden..][..hidden]
                    .copy_from_slice(&gy[b * hidden..][..hidden]);
            }
            g
        } else {
            gy
        };
        // Weight gradients are summed locally, then added: the four
        // buffers cannot be borrowed from `grads` at once.
        let sizes = host.each_ref().map(|h| h.len());
        let mut g: [Vec<f32>; 4] = sizes.map(|n| vec![0.0; n]);
        let mut dx = want_dx.then(|| vec![0.0; batch * steps * input]);
        let w = Weights {
            w_ih: &host[0],
            w_hh: &host[1],
            b_ih: &host[2],
            b_hh: &host[3],
        };
        let [g0, g1, g2, g3] = &mut g;
        let saved = saved
            .as_ref()
            .expect("a recording forward pass keeps its states");
        rec::backward(
            cell,
            d,
            &xs,
            &w,
            saved,
            &gy,
            CellGrads {
                w_ih: g0,
                w_hh: g1,
                b_ih: g2,
                b_hh: g3,
            },
            dx.as_deref_mut(),
        );
        for (ghost, local) in ghosts.iter().zip(&g) {
            grad_mut!(grads, ghost)?
                .iter_mut()
                .zip(local)
                .for_each(|(d, v)| *d += v);
        }
        Ok(dx)
    })
}
