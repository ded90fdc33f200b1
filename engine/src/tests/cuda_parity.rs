//! The CUDA backend against the CPU backend: for every layer kind, loss
//! and optimizer, the same seed gives the same outputs, loss and named
//! gradients within `|a - b| <= 1e-4 + 1e-3 |b|`, and the same parameters
//! five optimizer steps later.
//!
//! These need an NVIDIA GPU, so `cargo test` lists them as ignored, with
//! that reason; `scripts/gpu_check.sh` runs them (`--ignored`) on a GPU
//! machine, where a missing GPU fails them rather than passing silently.

use std::sync::Arc;

use dlwb_dsl::{CheckOptions, Graph, Learned};

use crate::backend::cpu::Cpu;
use crate::backend::cuda::Cuda;
use crate::backend::Backend;
use crate::data::Batch;
use crate::loss::Objective;
use crate::network::{compile_on, Network, Pass};
use crate::optim::Optimizer;
use crate::trainer::train_step;

fn gpu() -> Arc<Cuda> {
    let device = crate::device::resolve(crate::device::Choice::Cuda(None))
        .unwrap_or_else(|why| panic!("{why}"));
    let crate::device::Device::Cuda(n) = device else {
        unreachable!("cuda resolves to a GPU")
    };
    Arc::new(Cuda::open(n).unwrap_or_else(|e| panic!("opening {device}: {e}")))
}

fn graph(src: &str) -> Graph {
    let learned = Learned {
        vocab: Some(5),
        classes: None,
    };
    dlwb_dsl::parse_and_check(src, learned, &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"))
}

/// Where two results differ beyond the tolerance, if they do.
fn differ(what: &str, cuda: &[f32], cpu: &[f32]) -> Option<String> {
    if cuda.len() != cpu.len() {
        return Some(format!(
            "{what}: {} values on CUDA, {} on the CPU",
            cuda.len(),
            cpu.len()
        ));
    }
    let worst = cuda
        .iter()
        .zip(cpu)
        .enumerate()
        .map(|(i, (a, b))| (i, (a - b).abs() - (1e-4 + 1e-3 * b.abs()), *a, *b))
        .filter(|(_, excess, a, b)| *excess > 0.0 || a.is_nan() != b.is_nan())
        .max_by(|x, y| x.1.total_cmp(&y.1));
    worst.map(|(i, _, a, b)| format!("{what}[{i}]: CUDA {a}, CPU {b}"))
}

/// One training step's results on one backend: outputs, loss, gradients
/// by name, then the parameters after five optimizer steps.
struct Results {
    outputs: Vec<f32>,
    loss: f32,
    grads: Vec<(String, Vec<f32>)>,
    after: Vec<(String, Vec<f32>)>,
}

fn results<B: Backend>(be: Arc<B>, g: &Graph, batch: &Batch, teacher: Option<&[f32]>) -> Results {
    let mut net: Network<B> = compile_on(be.clone(), g, 3).unwrap();
    let n = batch.size;
    let outputs = net
        .outputs(&batch.inputs, n, Pass::Train { seed: 7 })
        .unwrap();
    let teacher = teacher.map(|t| be.upload(t.to_vec()).unwrap());
    let objective = match &teacher {
        Some(t) => Objective::Distill {
            teacher: t,
            temperature: 2.5,
            alpha: 0.6,
        },
        None => Objective::Loss(g.loss),
    };
    let out = net.objective_and_grads(batch, objective, 7).unwrap();
    let mut grads = out.grads;
    let by_param = net.grads_by_param(&mut grads).unwrap();
    let names: Vec<String> = net.params.list.iter().map(|p| p.name.clone()).collect();
    let mut opt = Optimizer::<B>::new(&g.experiment.train);
    for step in 0..5 {
        train_step(
            &mut net,
            &mut opt,
            batch,
            objective,
            step,
            g.experiment.train.optimizer.lr,
        )
        .unwrap();
    }
    let after = net.params.all_host().unwrap();
    Results {
        outputs,
        loss: out.stats.loss,
        grads: names.iter().cloned().zip(by_param).collect(),
        after: names.into_iter().zip(after).collect(),
    }
}

/// Every difference between the two backends on `src`.
fn compare(gpu: &Arc<Cuda>, src: &str, teacher: Option<&[f32]>) -> Vec<String> {
    let g = graph(src);
    let batch = crate::bench::synthetic_batch(&g, 6, 11);
    let cpu = results(Arc::new(Cpu::default()), &g, &batch, teacher);
    let cuda = results(gpu.clone(), &g, &batch, teacher);
    let mut bad = Vec::new();
    bad.extend(differ("outputs", &cuda.outputs, &cpu.outputs));
    bad.extend(differ("loss", &[cuda.loss], &[cpu.loss]));
    for ((name, a), (_, b)) in cuda.grads.iter().zip(&cpu.grads) {
        bad.extend(differ(&format!("gradient of {name}"), a, b));
    }
    for ((name, a), (_, b)) in cuda.after.iter().zip(&cpu.after) {
        bad.extend(differ(&format!("{name} after 5 steps"), a, b));
    }
    bad.into_iter().map(|d| format!("{src}\n    {d}")).collect()
}

/// Runs every case, reporting each that differs (not only the first).
fn check_all(cases: &[&str]) {
    let gpu = gpu();
    let bad: Vec<String> = cases
        .iter()
        .flat_map(|src| compare(&gpu, src, None))
        .collect();
    assert!(bad.is_empty(), "CUDA and CPU differ:\n{}", bad.join("\n"));
}

/// Layers train with SGD here: a bias that a normalization follows gets
/// a gradient that is rounding noise (the normalization takes the mean
/// out), and Adam scales noise up to whole steps, whose signs differ from
/// device to device. The optimizers have their own test.
const LAYERS_TRAIN: &str = "\ntrain { optimizer sgd lr=0.1 momentum=0.9 }";

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu_check.sh runs it"]
fn layers_match_the_cpu() {
    let cases = [
        "data synthetic { shape [6]; classes 3 }\nmodel { dense 8 relu; dense 7 sigmoid; dense 6 tanh; dense 5 gelu; dense 4 leaky_relu slope=0.1; dense 3 }",
        "data synthetic { shape [6]; classes 3 }\nmodel { dense 5; relu; dense 5; tanh; dense 5; sigmoid; dense 5; gelu; dense 3; softmax }",
        "data synthetic { shape [6]; classes 3 }\nmodel { dense 5 bias=false; leaky_relu; dense 3 }",
        "data synthetic { shape [2, 7, 7]; classes 3 }\nmodel { conv 3 kernel=3 stride=2 pad=1 relu; conv 4 kernel=2; pool max 2; flatten; dense 3 }",
        "data synthetic { shape [1, 6, 6]; classes 2 }\nmodel { conv 2 kernel=3 pad=same tanh; pool avg 2 stride=1; flatten; dense 2 }",
        "data synthetic { shape [3, 12, 12]; classes 4 }\nmodel { conv 6 kernel=5 pad=2 relu; pool max 2; conv 8 kernel=3 relu; pool avg 2; flatten; dense 4 }",
        "data synthetic { shape [5]; classes 3 }\nmodel { dense 6; batchnorm; relu; dense 3 }",
        "data synthetic { shape [2, 4, 4]; classes 3 }\nmodel { conv 3 kernel=3; batchnorm; flatten; dense 3 }",
        "data synthetic { shape [5]; classes 3 }\nmodel { dense 6; layernorm; dense 3 }",
        "data synthetic { shape [3, 4]; classes 2 }\nmodel { layernorm; batchnorm; flatten; dense 2 }",
        "data synthetic { shape [6]; classes 3 }\nmodel { dense 5 relu; residual { dense 5 tanh; dense 5 }; residual { dropout 0.3; dense 5 }; dense 3 }",
    ];
    let cases: Vec<String> = cases.iter().map(|c| format!("{c}{LAYERS_TRAIN}")).collect();
    check_all(&cases.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu_check.sh runs it"]
fn sequences_match_the_cpu() {
    let mut cases: Vec<String> = ["rnn", "lstm", "gru"]
        .iter()
        .map(|cell| {
            format!(
                "data text {{ path \"x\"; window 5 }}\nmodel {{ embed 4; {cell} 6; dense vocab }}"
            )
        })
        .collect();
    cases.push(
        "data synthetic { shape [4, 3]; classes 3 }\nmodel { lstm 5; gru 4 last; dense 3 }".into(),
    );
    cases.push("data synthetic { shape [4, 3]; classes 3 }\nmodel { rnn 5; last; dense 3 }".into());
    cases.push(
        "data synthetic { shape [3, 5]; classes 3 }\nmodel { lstm 64; gru 64 last; dense 3 }"
            .into(),
    );
    check_all(&cases.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu_check.sh runs it"]
fn losses_match_the_cpu() {
    check_all(&[
        "data synthetic sine { window 6 }\nmodel { gru 4; dense 1 }\ntrain { loss mse }",
        "data synthetic spirals { classes 2 }\nmodel { dense 4 tanh; dense 1 }\ntrain { loss bce }",
        "data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss bce }",
        "data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss mse }",
        "data synthetic spirals { classes 3 }\nmodel { dense 4 tanh; dense 3 }\ntrain { loss cross_entropy }",
    ]);
    let gpu = gpu();
    let teacher: Vec<f32> = (0..18).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.8).collect();
    let src = "data synthetic spirals { classes 3 }\nmodel { dense 5 tanh; dense 3 }";
    let bad = compare(&gpu, src, Some(&teacher));
    assert!(bad.is_empty(), "distillation differs:\n{}", bad.join("\n"));
}

#[test]
#[ignore = "needs an NVIDIA GPU: scripts/gpu_check.sh runs it"]
fn optimizers_match_the_cpu() {
    let model = "data synthetic { shape [6]; classes 3 }\nmodel { dense 8 tanh; dense 3 }";
    let cases: Vec<String> = [
        "optimizer sgd lr=0.1",
        "optimizer sgd lr=0.1 momentum=0.9 weight_decay=0.01",
        "optimizer sgd lr=0.1 momentum=0.9 nesterov=true",
        "optimizer adam lr=0.01",
        "optimizer adam lr=0.01 weight_decay=0.01",
        "optimizer adamw lr=0.01 weight_decay=0.1",
        "optimizer rmsprop lr=0.01",
        "optimizer rmsprop lr=0.01 momentum=0.9 weight_decay=0.01",
        "optimizer adagrad lr=0.1",
        "optimizer adadelta lr=1.0",
        "optimizer sgd lr=0.1; regularize l1=0.001 l2=0.01",
        "optimizer adam lr=0.01; clip_grad 0.05",
        "optimizer sgd lr=0.1; schedule cosine min_lr=0.01; epochs 3",
    ]
    .iter()
    .map(|t| format!("{model}\ntrain {{ {t} }}"))
    .collect();
    check_all(&cases.iter().map(String::as_str).collect::<Vec<_>>());
}
