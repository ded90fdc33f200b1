//! Recurrent layers as ONNX's RNN, LSTM and GRU: PyTorch's gate blocks
//! reordered to ONNX's, both biases in one tensor, and the sequence
//! transposed to ONNX's steps-first layout and back.

use dlwb_dsl::experiment::Cell;
use dlwb_dsl::graph::{param, Node};
use dlwb_dsl::layer::Checked;
use dlwb_dsl::ops::recurrent::Recurrent;

use super::builder::{attr_i, attr_ints, Builder};
use super::onnx::{onnx_gate_order, Weights};

/// `r`'s nodes after `x` (`[B, T, F]`); the name of `[B, T, H]`, or `[B, H]`
/// with `last`.
pub(super) fn lower(
    b: &mut Builder,
    n: &Node,
    x: &str,
    w: Weights<'_>,
    r: &Recurrent<Checked>,
) -> String {
    let (input, hidden) = (n.input.dims()[1], r.hidden);
    let gates = r.cell.gates();
    let p = |s: &str| format!("{}.{s}", n.name);
    // Blocks of `hidden` rows, each `cols` wide, in ONNX's gate order.
    let reorder = |t: Vec<f32>, cols: usize| -> Vec<f32> {
        onnx_gate_order(r.cell)
            .iter()
            .flat_map(|&k| t[k * hidden * cols..(k + 1) * hidden * cols].to_vec())
            .collect()
    };
    let gh = gates * hidden;
    let wi = reorder(w(&p(param::WEIGHT_IH)), input);
    let wh = reorder(w(&p(param::WEIGHT_HH)), hidden);
    let mut bias = reorder(w(&p(param::BIAS_IH)), 1);
    bias.extend(reorder(w(&p(param::BIAS_HH)), 1));
    let wi = b.init(&p("onnx_w"), &[1, gh, input], &wi);
    let wh = b.init(&p("onnx_r"), &[1, gh, hidden], &wh);
    let bias = b.init(&p("onnx_b"), &[1, 2 * gh], &bias);
    let steps_first = b.node("Transpose", &[x], vec![attr_ints("perm", &[1, 0, 2])]);
    let mut attrs = vec![attr_i("hidden_size", hidden as i64)];
    let op = match r.cell {
        Cell::Rnn => "RNN",
        Cell::Lstm => "LSTM",
        Cell::Gru => {
            // PyTorch applies the reset gate after the hidden product.
            attrs.push(attr_i("linear_before_reset", 1));
            "GRU"
        }
    };
    let outs = b.node_n(op, &[&steps_first, &wi, &wh, &bias], attrs, 2);
    if r.last {
        // Y_h, `[1, B, H]`.
        let axes = b.init_i64(&p("squeeze"), &[1], &[0]);
        return b.node("Squeeze", &[&outs[1], &axes], vec![]);
    }
    // Y, `[T, 1, B, H]`.
    let axes = b.init_i64(&p("squeeze"), &[1], &[1]);
    let y = b.node("Squeeze", &[&outs[0], &axes], vec![]);
    b.node("Transpose", &[&y], vec![attr_ints("perm", &[1, 0, 2])])
}
