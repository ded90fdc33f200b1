//! Forward outputs, losses, gradients, running statistics and optimizer
//! updates against PyTorch, for the same weights and inputs. The fixtures
//! come from `scripts/reference/make_fixtures.py`.

use std::collections::BTreeMap;

use crate::data::{Batch, Inputs, Targets};
use crate::network::{compile, Network, Pass};
use crate::optim::Optimizer;
use dlwb_dsl::{CheckOptions, Learned, Target};
use serde_json::Value as Json;

fn fixtures() -> Json {
    serde_json::from_str(include_str!("../../tests/fixtures/torch.json")).unwrap()
}

fn floats(v: &Json) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn build(source: &str, init: &Json) -> (Network, dlwb_dsl::Graph) {
    let learned = Learned {
        vocab: Some(5),
        classes: None,
    };
    let g = dlwb_dsl::parse_and_check(source, learned, &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let mut net = compile(&g, 0);
    let init: BTreeMap<String, Json> = serde_json::from_value(init.clone()).unwrap();
    let ours: Vec<String> = net.params.list.iter().map(|p| p.name.clone()).collect();
    let mut theirs: Vec<String> = init.keys().cloned().collect();
    let mut sorted = ours.clone();
    sorted.sort();
    theirs.sort();
    assert_eq!(sorted, theirs, "parameter names differ from PyTorch's");
    for p in net.params.list.iter_mut() {
        p.set(&floats(&init[&p.name]));
    }
    (net, g)
}

fn batch(case: &Json, g: &dlwb_dsl::Graph) -> Batch {
    let size = case["batch"].as_u64().unwrap() as usize;
    let inputs = if case["tokens"].as_bool().unwrap() {
        Inputs::Tokens(
            case["x"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect(),
        )
    } else {
        Inputs::Floats(std::sync::Arc::new(floats(&case["x"])))
    };
    let t = &case["targets"];
    let targets = match g.facts.target {
        Target::Values { .. } => Targets::Values(floats(t)),
        Target::NextToken { .. } => Targets::Tokens(
            t.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect(),
        ),
        Target::Classes { .. } => Targets::Classes(
            t.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect(),
        ),
    };
    Batch {
        size,
        inputs,
        targets,
    }
}

fn assert_close(what: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(
            (a - b).abs() <= 2e-5 + 2e-4 * b.abs(),
            "{what}[{i}]: dlwb {a}, PyTorch {b}"
        );
    }
}

#[test]
fn outputs_losses_gradients_and_running_statistics_match_pytorch() {
    let f = fixtures();
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 11);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (mut net, g) = build(case["source"].as_str().unwrap(), &case["init"]);
        let b = batch(case, &g);
        let out = net
            .outputs(&b.inputs, b.size, Pass::Train { seed: 0 })
            .unwrap();
        assert_close(&format!("{name} output"), &out, &floats(&case["output"]));
        let crate::network::TrainStep {
            stats,
            mut grads,
            updates,
        } = net.loss_and_grads(&b, g.loss, 0).unwrap();
        let want = case["loss"].as_f64().unwrap() as f32;
        assert!(
            (stats.loss - want).abs() < 1e-5 * want.abs().max(1.0),
            "{name} loss: dlwb {}, PyTorch {want}",
            stats.loss
        );
        let ours = net.grads_by_param(&mut grads).unwrap();
        for (p, gr) in net.params.list.iter().zip(&ours) {
            if let Some(theirs) = case["grads"].get(&p.name) {
                assert_close(&format!("{name} grad {}", p.name), gr, &floats(theirs));
            } else {
                assert!(
                    !p.trainable,
                    "{name}: PyTorch has no gradient for {}",
                    p.name
                );
            }
        }
        net.apply_updates(updates);
        for (k, v) in case["buffers_after"].as_object().unwrap() {
            assert_close(
                &format!("{name} {k}"),
                &net.params.get(k).unwrap().host(),
                &floats(v),
            );
        }
    }
}

#[test]
fn two_updates_of_every_optimizer_match_pytorch() {
    let f = fixtures();
    let mlp = f["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mlp")
        .unwrap();
    let updates = f["optimizers"].as_array().unwrap();
    assert_eq!(updates.len(), 10);
    for u in updates {
        let line = u["train"].as_str().unwrap();
        let source = format!("{}\ntrain {{ {line} }}", mlp["source"].as_str().unwrap());
        let (mut net, g) = build(&source, &mlp["init"]);
        let b = batch(mlp, &g);
        let mut opt = Optimizer::new(&g.experiment.train);
        for _ in 0..2 {
            let mut grads = net.loss_and_grads(&b, g.loss, 0).unwrap().grads;
            opt.step(&mut net.params, &mut grads, g.experiment.train.optimizer.lr)
                .unwrap();
        }
        for p in &net.params.list {
            assert_close(
                &format!("{line}: {}", p.name),
                &p.host(),
                &floats(&u["after"][&p.name]),
            );
        }
    }
}
