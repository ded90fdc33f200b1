//! Recurrent layers: `rnn`, `lstm`, `gru` over whole sequences.

use dlwb_dsl::experiment::Cell;
use dlwb_dsl::graph::{param, Node};

use super::{Build, Ctx, Forward, Layer, ParamsOf, S};
use crate::autograd::Value;
use crate::backend::ops::{CellGrads, CellPrepared, CellWeights};
use crate::backend::{Backend, Result};
use crate::kernels::recurrent::Dims;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Recurrent {
    cell: Cell,
    /// `[weight_ih, weight_hh, bias_ih, bias_hh]`.
    p: [usize; 4],
    input: usize,
    hidden: usize,
    last: bool,
}

fn cell_weights<B: Backend>(w: &[B::Buf; 4]) -> CellWeights<'_, B> {
    CellWeights {
        w_ih: &w[0],
        w_hh: &w[1],
        b_ih: &w[2],
        b_hh: &w[3],
    }
}

impl Build for dlwb_dsl::ops::recurrent::Recurrent<S> {
    type Layer = Recurrent;

    fn build<B: Backend>(&self, n: &Node, p: &ParamsOf<'_, B>, _: Vec<Layer>) -> Recurrent {
        Recurrent::new(n, p, self.cell, self.hidden, self.last)
    }
}

impl Recurrent {
    fn new<B: Backend>(
        n: &Node,
        p: &ParamsOf<'_, B>,
        cell: Cell,
        hidden: usize,
        last: bool,
    ) -> Self {
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
}

impl Forward for Recurrent {
    /// `[B, T, F]` to `[B, T, H]`, or `[B, H]` with `last`.
    fn forward<B: Backend>(&self, x: Value<B>, cx: &mut Ctx<'_, B>) -> Result<Value<B>> {
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
        let be = cx.be;
        let w: [B::Buf; 4] = p.map(|i| cx.param(i).clone());
        let g = cell.gates() * hidden;
        let (w_ih_t, w_hh_t) = (
            cx.transposed(p[0], g, input)?,
            cx.transposed(p[1], g, hidden)?,
        );
        let wt = CellPrepared {
            w_ih: &*w_ih_t,
            w_hh: &*w_hh_t,
        };
        let keep = cx.rec.recording();
        let (out, saved) = be.recurrent(cell, d, &x.buf, &cell_weights::<B>(&w), &wt, keep)?;
        let (y, shape) = if last {
            (be.last_step(&out, batch, steps)?, vec![batch, hidden])
        } else {
            (out, vec![batch, steps, hidden])
        };
        let ids = p.map(|i| (cx.id(i), be.len(cx.param(i))));
        let xs = x.buf.clone();
        Ok(cx.rec.unary(x, y, shape, move |be, gy, grads, want_dx| {
            let gy = if last {
                be.last_step_backward(&gy, batch, steps)?
            } else {
                gy
            };
            let saved = saved
                .as_ref()
                .expect("a recording forward pass keeps its states");
            let [mut w_ih, mut w_hh, mut b_ih, mut b_hh] = grads.take_slots(be, ids)?;
            let to = CellGrads {
                w_ih: &mut w_ih,
                w_hh: &mut w_hh,
                b_ih: &mut b_ih,
                b_hh: &mut b_hh,
            };
            let dx = be.recurrent_backward(
                cell,
                d,
                &xs,
                &cell_weights::<B>(&w),
                saved,
                &gy,
                to,
                want_dx,
            );
            grads.put_slots(ids, [w_ih, w_hh, b_ih, b_hh]);
            dx
        }))
    }
}
