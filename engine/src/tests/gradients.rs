//! Finite-difference checks of every layer kind and every loss: the
//! gradient the tape computes for each parameter matches central
//! differences of the loss, and no parameter is left without a gradient.

use crate::data::Batch;
use crate::network::{compile, Network, Pass};
use dlwb_dsl::{CheckOptions, Learned};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VOCAB: usize = 5;

fn build(src: &str) -> (Network, dlwb_dsl::Graph) {
    let learned = Learned {
        vocab: Some(VOCAB),
        classes: None,
    };
    let g = dlwb_dsl::parse_and_check(src, learned, &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"));
    (compile(&g, 3), g)
}

/// A batch of `b` random samples that fits the graph's input and target.
fn batch(g: &dlwb_dsl::Graph, b: usize, seed: u64) -> Batch {
    crate::bench::synthetic_batch(g, b, seed)
}

/// Compares tape gradients with central differences on up to 12 elements
/// of every parameter; every trainable parameter must get some gradient.
fn check(src: &str) {
    let (mut net, g) = build(src);
    let b = batch(&g, 4, 11);
    let mut grads = net.loss_and_grads(&b, g.loss, 5).unwrap().grads;
    let analytic = net.grads_by_param(&mut grads).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (mut checked, mut kinks) = (0, 0);
    for (i, grad) in analytic.iter().enumerate() {
        if !net.params.list[i].trainable {
            continue;
        }
        let name = net.params.list[i].name.clone();
        let norm: f32 = grad.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(norm > 0.0, "{src}\n{name} received no gradient");
        let w0 = net.params.list[i].host();
        for _ in 0..12.min(w0.len()) {
            let k = rng.gen_range(0..w0.len());
            let mut fd = |eps: f32| {
                let mut w = w0.clone();
                w[k] = w0[k] + eps;
                net.params.list[i].set(&w);
                let up = net.evaluate(&b, g.loss, Pass::Train { seed: 5 }).loss as f64;
                w[k] = w0[k] - eps;
                net.params.list[i].set(&w);
                let down = net.evaluate(&b, g.loss, Pass::Train { seed: 5 }).loss as f64;
                net.params.list[i].set(&w0);
                (up - down) / (2.0 * eps as f64)
            };
            let (coarse, fine) = (fd(2e-3), fd(1e-3));
            let a = grad[k] as f64;
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-3 + 2e-2 * x.abs().max(y.abs());
            if !close(coarse, fine) {
                // A ReLU or max-pool kink inside the step: not smooth here.
                kinks += 1;
                continue;
            }
            checked += 1;
            assert!(
                close(a, fine),
                "{src}\n{name}[{k}]: tape {a}, finite difference {fine}"
            );
        }
    }
    assert!(
        kinks * 4 <= checked,
        "{src}: {kinks} non-smooth elements of {checked}"
    );
}

#[test]
fn dense_and_every_activation() {
    check("data synthetic { shape [6]; classes 3 }\nmodel { dense 8 relu; dense 7 sigmoid; dense 6 tanh; dense 5 gelu; dense 4 leaky_relu slope=0.1; dense 3 }");
    check("data synthetic { shape [6]; classes 3 }\nmodel { dense 5; relu; dense 5; tanh; dense 5; sigmoid; dense 5; gelu; dense 3; softmax }");
    check("data synthetic { shape [6]; classes 3 }\nmodel { dense 5 bias=false; leaky_relu; dense 3 }");
}

#[test]
fn conv_with_stride_and_padding_and_both_pools() {
    check("data synthetic { shape [2, 7, 7]; classes 3 }\nmodel { conv 3 kernel=3 stride=2 pad=1 relu; conv 4 kernel=2; pool max 2; flatten; dense 3 }");
    check("data synthetic { shape [1, 6, 6]; classes 2 }\nmodel { conv 2 kernel=3 pad=same tanh; pool avg 2 stride=1; flatten; dense 2 }");
}

#[test]
fn batch_and_layer_norm() {
    check("data synthetic { shape [5]; classes 3 }\nmodel { dense 6; batchnorm; relu; dense 3 }");
    check("data synthetic { shape [2, 4, 4]; classes 3 }\nmodel { conv 3 kernel=3; batchnorm; flatten; dense 3 }");
    check("data synthetic { shape [5]; classes 3 }\nmodel { dense 6; layernorm; dense 3 }");
    check("data synthetic { shape [3, 4]; classes 2 }\nmodel { layernorm; batchnorm; flatten; dense 2 }");
}

#[test]
fn embedding_and_every_recurrent_cell_over_every_step() {
    for cell in ["rnn", "lstm", "gru"] {
        check(&format!(
            "data text {{ path \"x\"; window 5 }}\nmodel {{ embed 4; {cell} 6; dense vocab }}"
        ));
    }
}

#[test]
fn recurrent_last_step_and_stacking() {
    check("data synthetic { shape [4, 3]; classes 3 }\nmodel { lstm 5; gru 4 last; dense 3 }");
    check("data synthetic { shape [4, 3]; classes 3 }\nmodel { rnn 5; last; dense 3 }");
}

#[test]
fn residual_blocks_and_dropout() {
    check("data synthetic { shape [6]; classes 3 }\nmodel { dense 5 relu; residual { dense 5 tanh; dense 5 }; residual { dropout 0.3; dense 5 }; dense 3 }");
}

#[test]
fn every_loss() {
    check("data synthetic sine { window 6 }\nmodel { gru 4; dense 1 }\ntrain { loss mse }");
    check(
        "data synthetic spirals { classes 2 }\nmodel { dense 4 tanh; dense 1 }\ntrain { loss bce }",
    );
    check(
        "data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss bce }",
    );
    check(
        "data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss mse }",
    );
    check("data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss cross_entropy }");
}

#[test]
fn the_distillation_objective() {
    use crate::loss::Objective;
    let (mut net, g) =
        build("data synthetic spirals { classes 3 }\nmodel { dense 5 tanh; dense 3 }");
    let b = batch(&g, 4, 2);
    let teacher: Vec<f32> = (0..12).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.8).collect();
    let teacher = std::sync::Arc::new(teacher);
    let obj = Objective::Distill {
        teacher: &teacher,
        temperature: 2.5,
        alpha: 0.6,
    };
    let mut grads = net.objective_and_grads(&b, obj, 0).unwrap().grads;
    let analytic = net.grads_by_param(&mut grads).unwrap();
    let loss = |net: &crate::network::Network| {
        use crate::backend::LossOps;
        let y = net.forward(&b.inputs, 4, Pass::Train { seed: 0 }).unwrap();
        net.be.loss(&obj, &y.buf, &b.targets).unwrap().value as f64
    };
    for (i, grad) in analytic.iter().enumerate() {
        let w0 = net.params.list[i].host();
        for k in 0..w0.len().min(6) {
            let mut w = w0.clone();
            w[k] += 1e-3;
            net.params.list[i].set(&w);
            let up = loss(&net);
            w[k] -= 2e-3;
            net.params.list[i].set(&w);
            let down = loss(&net);
            net.params.list[i].set(&w0);
            let fd = (up - down) / 2e-3;
            assert!(
                (fd - grad[k] as f64).abs() < 1e-3 + 2e-2 * fd.abs(),
                "{}[{k}]: tape {}, fd {fd}",
                net.params.list[i].name,
                grad[k]
            );
        }
    }
}

#[test]
fn recurrent_layers_at_block_sized_shapes() {
    // Batch 4 and hidden 64 make every step's products whole 4x64 blocks,
    // the shapes the AVX-512 kernel takes on CPUs that have it.
    check("data synthetic { shape [3, 5]; classes 3 }\nmodel { lstm 64; gru 64 last; dense 3 }");
}

#[test]
fn conv_at_block_sized_shapes() {
    // Batch 4 of 8x8 with `pad=same` unfolds to 256 columns, and 5 filters
    // leave a row over: the AVX-512 kernel's whole-block and leftover paths.
    check("data synthetic { shape [2, 8, 8]; classes 3 }\nmodel { conv 5 kernel=3 pad=same relu; pool max 2; flatten; dense 3 }");
}

#[test]
fn dense_at_block_sized_shapes() {
    // 64 and 128 units: whole column blocks for the AVX-512 kernel.
    check("data synthetic { shape [16]; classes 3 }\nmodel { dense 64 relu; dense 128 tanh; dense 3 }");
}
