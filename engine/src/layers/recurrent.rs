//! Recurrent layers: `rnn`, `lstm`, `gru` over whole sequences.

use std::sync::Arc;

use dlwb_dsl::experiment::Cell;
use dlwb_dsl::graph::{param, Node};

use super::{Ctx, ParamsOf};
use crate::autograd::{grad_mut, unary, TapeKind, Value};
use crate::kernels::recurrent::{self as rec, Dims, Grads as CellGrads, Weights};

#[derive(Debug, Clone, Copy)]
pub struct Recurrent {
    cell: Cell,
    /// `[weight_ih, weight_hh, bias_ih, bias_hh]`.
    p: [usize; 4],
    input: usize,
    hidden: usize,
    last: bool,
}

impl Recurrent {
    pub fn new(n: &Node, p: &ParamsOf<'_>, cell: Cell, hidden: usize, last: bool) -> Self {
        Recurrent {
            cell,
            p: [
                param::WEIGHT_IH,
                param::WEIGHT_HH,
                param::BIAS_IH,
                param::BIAS_HH,
            ]
            .map(|short| p.get(short)),
            input: n.input.dims()[1],
            hidden,
            last,
        }
    }

    /// `[B, T, F]` to `[B, T, H]`, or `[B, H]` with `last`.
    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let Recurrent {
            cell,
            p,
            input,
            hidden,
            last,
        } = *self;
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
}
