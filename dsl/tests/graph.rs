//! The checked graph's facts that the engine relies on: parameter names and
//! shapes in PyTorch's layout, initial bounds, and symbol resolution.

mod common;

use dlwb_dsl::graph::{Init, Op};
use dlwb_dsl::{parse_and_check, Shape};

fn graph(src: &str) -> dlwb_dsl::Graph {
    parse_and_check(src, common::LEARNED, &common::OPTS).unwrap_or_else(|d| panic!("{d:#?}"))
}

#[test]
fn parameters_are_named_and_shaped_as_pytorch_names_them() {
    let g = graph(
        "data cifar10 { path \"c\" }\nmodel { c1: conv 6 kernel=5 pad=same stride=1 relu; batchnorm; pool avg 2 stride=2; flatten; dense classes }",
    );
    let names: Vec<(String, Vec<usize>, bool)> = g
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.shape.clone(), p.trainable))
        .collect();
    assert_eq!(
        names,
        vec![
            ("c1.weight".into(), vec![6, 3, 5, 5], true),
            ("c1.bias".into(), vec![6], true),
            ("batchnorm1.weight".into(), vec![6], true),
            ("batchnorm1.bias".into(), vec![6], true),
            ("batchnorm1.running_mean".into(), vec![6], false),
            ("batchnorm1.running_var".into(), vec![6], false),
            ("dense1.weight".into(), vec![10, 6 * 16 * 16], true),
            ("dense1.bias".into(), vec![10], true),
        ]
    );
    assert_eq!(
        g.nodes[0].output,
        Shape::Image {
            channels: 6,
            height: 32,
            width: 32
        }
    );
    // PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 3*5*5.
    assert_eq!(
        g.params()[0].init,
        Init::Uniform {
            bound: 1.0 / 75f32.sqrt()
        }
    );
}

#[test]
fn lets_blocks_and_arithmetic_resolve_sizes() {
    let g = graph(
        "let w = 16\nblock two(n) { dense n * 2 relu; dense n }\ndata synthetic spirals { classes 4 }\nmodel { two(w); dense classes + 0 }",
    );
    let units: Vec<usize> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Dense(d) => Some(d.units),
            _ => None,
        })
        .collect();
    assert_eq!(units, vec![32, 16, 4]);
    assert_eq!(g.nodes[0].name, "two1.dense1");
    assert_eq!(
        g.param_count(),
        (2 * 32 + 32) + (32 * 16 + 16) + (16 * 4 + 4)
    );
}

#[test]
fn recurrent_layers_keep_steps_unless_last() {
    let g = graph("data synthetic { shape [10, 3]; classes 10 }\nmodel { gru 12; rnn 6; lstm 4 last; dense 10 }");
    let outs: Vec<Shape> = g.nodes.iter().map(|n| n.output).collect();
    assert_eq!(
        outs,
        vec![
            Shape::Sequence {
                steps: 10,
                features: 12
            },
            Shape::Sequence {
                steps: 10,
                features: 6
            },
            Shape::Vector { features: 4 },
            Shape::Vector { features: 10 },
        ]
    );
}
