//! A checked graph and its weights as an ONNX model (opset 17), through
//! the types prost generates from ONNX's own `onnx.proto`. The graph takes
//! samples as the data source yields them (images as floats in [0, 1],
//! tokens as int64 ids): the data's normalization is its first operation.
//! Input `input`, output `logits`, the batch dimension dynamic.

use dlwb_dsl::experiment::{Activation, Cell, PoolMode};
use dlwb_dsl::graph::{param, Node, Op, Shape};
use dlwb_dsl::Graph;
use prost::Message;

use super::builder::{attr_f, attr_i, attr_ints, Builder};
use crate::proto::onnx::{
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto, GraphProto, ModelProto,
    OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// The opset every node is written for (LayerNormalization is 17's).
const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;

/// A parameter's values by its dotted name.
pub(crate) type Weights<'a> = &'a dyn Fn(&str) -> Vec<f32>;

/// The data's per-channel normalization, `(x - mean) * (1 / std)`.
pub(crate) struct Normalize<'a> {
    pub mean: &'a [f32],
    pub std: &'a [f32],
}

/// The model's bytes.
pub(crate) fn model(
    g: &Graph,
    weights: Weights<'_>,
    normalize: Option<Normalize<'_>>,
) -> Result<Vec<u8>, String> {
    let mut b = Builder::default();
    let tokens = matches!(g.facts.input, Shape::Tokens { .. });
    let mut x = "input".to_string();
    if let Some(n) = normalize {
        x = normalized(&mut b, &x, &g.facts.input, &n)?;
    }
    for n in &g.nodes {
        x = layer(&mut b, n, x, weights)?;
    }
    b.rename_output(&x, "logits");
    let elem = if tokens {
        DataType::Int64
    } else {
        DataType::Float
    };
    let graph = GraphProto {
        node: b.nodes,
        name: Some(g.experiment.name.clone()),
        initializer: b.initializers,
        input: vec![value_info("input", elem, &g.facts.input.dims())],
        output: vec![value_info("logits", DataType::Float, &g.output().dims())],
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("dlwb".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// A tensor input or output with a dynamic batch dimension first.
fn value_info(name: &str, elem: DataType, dims: &[usize]) -> ValueInfoProto {
    let mut dim = vec![crate::proto::onnx::tensor_shape_proto::Dimension {
        value: Some(dimension::Value::DimParam("batch".into())),
        denotation: None,
    }];
    dim.extend(
        dims.iter()
            .map(|&d| crate::proto::onnx::tensor_shape_proto::Dimension {
                value: Some(dimension::Value::DimValue(d as i64)),
                denotation: None,
            }),
    );
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            denotation: None,
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        ..Default::default()
    }
}

fn normalized(
    b: &mut Builder,
    x: &str,
    input: &Shape,
    n: &Normalize<'_>,
) -> Result<String, String> {
    let dims = input.dims();
    let c = n.mean.len();
    // Statistics per plane of the first axis (an image's channels, a
    // vector's features), or one for all.
    let mut shape = vec![c];
    if c != 1 && dims.first() != Some(&c) {
        return Err(format!(
            "normalization with {c} values over input {input} has no ONNX form here"
        ));
    }
    shape.extend(std::iter::repeat_n(1, dims.len().saturating_sub(1)));
    let inv: Vec<f32> = n.std.iter().map(|s| 1.0 / s).collect();
    let mean = b.init("normalize.mean", &shape, n.mean);
    let inv = b.init("normalize.inv_std", &shape, &inv);
    let centred = b.node("Sub", &[x, &mean], vec![]);
    Ok(b.node("Mul", &[&centred, &inv], vec![]))
}

/// `n`'s nodes after `x`; its output's name.
fn layer(b: &mut Builder, n: &Node, x: String, w: Weights<'_>) -> Result<String, String> {
    let p = |short: &str| format!("{}.{short}", n.name);
    let y = match &n.op {
        Op::Dense(d) => dense(b, n, &x, w, d),
        Op::Conv(c) => {
            let dims = n.input.dims();
            let weight = b.init(
                &p(param::WEIGHT),
                &[c.filters, dims[0], c.kernel, c.kernel],
                &w(&p(param::WEIGHT)),
            );
            let bias = b.init(&p(param::BIAS), &[c.filters], &w(&p(param::BIAS)));
            let attrs = vec![
                attr_ints("kernel_shape", &[c.kernel, c.kernel]),
                attr_ints("strides", &[c.stride, c.stride]),
                attr_ints("pads", &[c.pad; 4]),
            ];
            b.node("Conv", &[&x, &weight, &bias], attrs)
        }
        Op::Pool(pool) => {
            let op = match pool.mode {
                PoolMode::Max => "MaxPool",
                PoolMode::Avg => "AveragePool",
            };
            let attrs = vec![
                attr_ints("kernel_shape", &[pool.kernel, pool.kernel]),
                attr_ints("strides", &[pool.stride, pool.stride]),
            ];
            b.node(op, &[&x], attrs)
        }
        Op::Flatten(_) => b.node("Flatten", &[&x], vec![attr_i("axis", 1)]),
        // Inference: the identity.
        Op::Dropout(_) => x,
        Op::BatchNorm(bn) => batch_norm(b, n, &x, w, bn.eps),
        Op::LayerNorm(ln) => {
            let width = *n.input.dims().last().expect("normalized features");
            let scale = b.init(&p(param::WEIGHT), &[width], &w(&p(param::WEIGHT)));
            let bias = b.init(&p(param::BIAS), &[width], &w(&p(param::BIAS)));
            let attrs = vec![attr_i("axis", -1), attr_f("epsilon", ln.eps)];
            b.node("LayerNormalization", &[&x, &scale, &bias], attrs)
        }
        Op::Embed(e) => {
            let table = b.init(&p(param::WEIGHT), &[e.vocab, e.dim], &w(&p(param::WEIGHT)));
            b.node("Gather", &[&table, &x], vec![attr_i("axis", 0)])
        }
        Op::Recurrent(r) => super::recurrent::lower(b, n, &x, w, r),
        Op::Last(_) => {
            let steps = n.input.dims()[0];
            let index = b.init_i64(&format!("{}.index", n.name), &[], &[steps as i64 - 1]);
            b.node("Gather", &[&x, &index], vec![attr_i("axis", 1)])
        }
        Op::Activation(a) => activation(b, &x, a.activation),
        Op::Residual(r) => {
            let mut y = x.clone();
            for inner in &r.body {
                y = layer(b, inner, y, w)?;
            }
            b.node("Add", &[&x, &y], vec![])
        }
        Op::Scope(never) => match *never {},
    };
    Ok(match n.activation {
        Some(a) => activation(b, &y, a),
        None => y,
    })
}

/// Gemm over vectors; MatMul and Add over every step of a sequence.
fn dense(
    b: &mut Builder,
    n: &Node,
    x: &str,
    w: Weights<'_>,
    d: &dlwb_dsl::ops::dense::Dense<dlwb_dsl::layer::Checked>,
) -> String {
    let p = |short: &str| format!("{}.{short}", n.name);
    let fan_in = *n.input.dims().last().expect("a dense input has features");
    let weight = w(&p(param::WEIGHT));
    let bias = d
        .bias
        .then(|| b.init(&p(param::BIAS), &[d.units], &w(&p(param::BIAS))));
    if matches!(n.input, Shape::Vector { .. }) {
        let wname = b.init(&p(param::WEIGHT), &[d.units, fan_in], &weight);
        let mut inputs = vec![x, wname.as_str()];
        if let Some(bias) = &bias {
            inputs.push(bias);
        }
        return b.node("Gemm", &inputs, vec![attr_i("transB", 1)]);
    }
    // MatMul broadcasts over the steps.
    let wt = crate::kernels::matmul::transpose(&weight, d.units, fan_in);
    let wname = b.init(&format!("{}.weight_t", n.name), &[fan_in, d.units], &wt);
    let y = b.node("MatMul", &[x, &wname], vec![]);
    match &bias {
        Some(bias) => b.node("Add", &[&y, bias], vec![]),
        None => y,
    }
}

/// Batch normalization in its inference form; over the features of a
/// sequence's steps it is transposed to ONNX's channels-second layout.
fn batch_norm(b: &mut Builder, n: &Node, x: &str, w: Weights<'_>, eps: f32) -> String {
    let p = |short: &str| format!("{}.{short}", n.name);
    let c = match n.input {
        Shape::Image { channels, .. } => channels,
        other => *other.dims().last().expect("normalized features"),
    };
    let names = [
        param::WEIGHT,
        param::BIAS,
        param::RUNNING_MEAN,
        param::RUNNING_VAR,
    ]
    .map(|s| b.init(&p(s), &[c], &w(&p(s))));
    let seq = matches!(n.input, Shape::Sequence { .. });
    let x = if seq {
        b.node("Transpose", &[x], vec![attr_ints("perm", &[0, 2, 1])])
    } else {
        x.to_string()
    };
    let inputs = [x.as_str(), &names[0], &names[1], &names[2], &names[3]];
    let y = b.node("BatchNormalization", &inputs, vec![attr_f("epsilon", eps)]);
    if seq {
        b.node("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 1])])
    } else {
        y
    }
}

fn activation(b: &mut Builder, x: &str, a: Activation) -> String {
    match a {
        Activation::Relu => b.node("Relu", &[x], vec![]),
        Activation::Sigmoid => b.node("Sigmoid", &[x], vec![]),
        Activation::Tanh => b.node("Tanh", &[x], vec![]),
        Activation::LeakyRelu { slope } => b.node("LeakyRelu", &[x], vec![attr_f("alpha", slope)]),
        Activation::Softmax => b.node("Softmax", &[x], vec![attr_i("axis", -1)]),
        // Opset 17 has no Gelu: x * 0.5 * (1 + erf(x / sqrt 2)), the exact form.
        Activation::Gelu => {
            let sqrt2 = b.init_scalar("gelu.sqrt2", std::f32::consts::SQRT_2);
            let one = b.init_scalar("gelu.one", 1.0);
            let half = b.init_scalar("gelu.half", 0.5);
            let scaled = b.node("Div", &[x, &sqrt2], vec![]);
            let erf = b.node("Erf", &[&scaled], vec![]);
            let plus = b.node("Add", &[&erf, &one], vec![]);
            let prod = b.node("Mul", &[x, &plus], vec![]);
            b.node("Mul", &[&prod, &half], vec![])
        }
    }
}

/// The gate blocks of a PyTorch tensor in ONNX's order: LSTM's (i, f, g, o)
/// become (i, o, f, c); GRU's (r, z, n) become (z, r, h).
pub(super) fn onnx_gate_order(cell: Cell) -> &'static [usize] {
    match cell {
        Cell::Rnn => &[0],
        Cell::Lstm => &[0, 3, 1, 2],
        Cell::Gru => &[1, 0, 2],
    }
}
