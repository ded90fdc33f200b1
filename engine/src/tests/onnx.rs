//! Every layer kind's ONNX form run by onnxruntime (from the test venv
//! that `scripts/test.sh` sets up) on the inputs dlwb ran, matching
//! dlwb's outputs within 1e-4.

use std::path::PathBuf;
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{Inputs, Which};
use crate::export::onnx::{model, Normalize};
use crate::network::{compile, Pass};
use dlwb_dsl::{CheckOptions, Learned};

const VOCAB: usize = 7;

/// Runs the model with onnxruntime on the raw input file; writes the
/// logits beside it.
const RUN: &str = r#"
import sys, numpy as np, onnxruntime as ort
model, inputs, kind, shape, out = sys.argv[1:6]
shape = [int(d) for d in shape.split(",")]
x = np.fromfile(inputs, dtype=np.int64 if kind == "tokens" else np.float32).reshape(shape)
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
np.asarray(s.run(["logits"], {"input": x})[0], dtype=np.float32).tofile(out)
"#;

fn python() -> PathBuf {
    match std::env::var_os("DLWB_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv =
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python");
            assert!(
                venv.exists(),
                "this test runs onnxruntime: run `scripts/test.sh`, which installs it into target/test-venv"
            );
            venv
        }
    }
}

/// Exports `src`'s model (weights from its initialization, batch norm's
/// running statistics drawn at random), runs it on a random batch of 3 in
/// dlwb and in onnxruntime, and compares.
fn matches_onnxruntime(name: &str, src: &str, normalize: Option<(&[f32], &[f32])>) {
    let learned = Learned {
        vocab: Some(VOCAB),
        classes: None,
    };
    let g = dlwb_dsl::parse_and_check(src, learned, &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{src}\n{d:#?}"));
    let mut net = compile(&g, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for p in net.params.list.iter_mut().filter(|p| !p.trainable) {
        let v: Vec<f32> = (0..p.len()).map(|_| rng.gen_range(0.2..1.5)).collect();
        p.set(&v);
    }
    let batch = 3;
    let mut raw = crate::bench::synthetic_batch(&g, batch, 4).inputs;
    let dir = std::env::temp_dir().join(format!("dlwb-onnx-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (kind, bytes): (&str, Vec<u8>) = match &raw {
        Inputs::Floats(x) => ("floats", x.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Inputs::Tokens(t) => (
            "tokens",
            t.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect(),
        ),
    };
    std::fs::write(dir.join("input.bin"), bytes).unwrap();
    // dlwb runs on normalized samples, as its data source yields them.
    if let (Some((mean, std)), Inputs::Floats(x)) = (normalize, &mut raw) {
        let n = crate::data::transform::Normalization {
            mean: mean.to_vec(),
            std: std.to_vec(),
        };
        for s in std::sync::Arc::make_mut(x).chunks_mut(g.facts.input.elements()) {
            n.apply(s);
        }
    }
    let ours = net.outputs(&raw, batch, Pass::Eval).unwrap();
    let host = net.params.all_host().unwrap();
    let weights = |n: &str| host[net.params.index(n).unwrap()].clone();
    let norm = normalize.map(|(mean, std)| Normalize { mean, std });
    let bytes = model(&g, &weights, norm).unwrap();
    let mut shape = vec![batch];
    shape.extend(g.facts.input.dims());
    let theirs = onnxruntime(&dir, &bytes, kind, &shape);
    close(name, &ours, &theirs);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the ONNX model `bytes` with onnxruntime on `dir/input.bin`.
fn onnxruntime(dir: &std::path::Path, bytes: &[u8], kind: &str, shape: &[usize]) -> Vec<f32> {
    std::fs::write(dir.join("model.onnx"), bytes).unwrap();
    let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let out = Command::new(python())
        .args(["-c", RUN])
        .arg(dir.join("model.onnx"))
        .arg(dir.join("input.bin"))
        .arg(kind)
        .arg(shape.join(","))
        .arg(dir.join("out.bin"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "onnxruntime failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("out.bin"))
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Every output within 1e-4 (relative where above 1).
fn close(name: &str, ours: &[f32], theirs: &[f32]) {
    assert_eq!(theirs.len(), ours.len(), "{name}: output size");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
        .fold(0f32, f32::max);
    assert!(worst <= 1e-4, "{name}: worst difference {worst}");
}

#[test]
fn dense_every_activation_dropout_and_normalization() {
    matches_onnxruntime(
        "dense",
        "data synthetic { shape [6]; classes 4 }\nmodel { dense 8 relu; dropout 0.5; dense 8 sigmoid; dense 8 tanh; dense 8 leaky_relu slope=0.2; dense 8 gelu; dense 6 bias=false; softmax; dense classes }",
        Some((&[0.5; 6], &[2.0; 6])),
    );
}

#[test]
fn conv_pools_flatten_and_batch_norm_over_images() {
    matches_onnxruntime(
        "conv",
        "data synthetic { shape [2, 9, 9]; classes 3 }\nmodel { conv 4 kernel=3 pad=1 relu; batchnorm; pool max 2; conv 5 kernel=2 stride=2; pool avg 2 stride=1; flatten; batchnorm; dense classes }",
        Some((&[0.1, -0.2], &[0.5, 2.0])),
    );
}

#[test]
fn embeddings_every_recurrent_cell_layer_norm_and_sequences() {
    matches_onnxruntime(
        "recurrent",
        "data text { path \"x\"; window 5 }\nmodel { embed 6; lstm 5; layernorm; gru 4; batchnorm; rnn 3; dense vocab }",
        None,
    );
    matches_onnxruntime(
        "last",
        "data synthetic { shape [4, 3]; classes 3 }\nmodel { gru 5 last; dense classes }",
        None,
    );
    matches_onnxruntime(
        "last-layer",
        "data synthetic { shape [4, 3]; classes 3 }\nmodel { lstm 5; rnn 4; dense 6; last; dense classes }",
        None,
    );
}

#[test]
fn residual_blocks() {
    matches_onnxruntime(
        "residual",
        "data synthetic { shape [5]; classes 2 }\nmodel { dense 6 relu; residual { dense 6 relu; dense 6 }; layernorm; dense classes }",
        None,
    );
}

/// The bytes of an input batch as the ONNX model takes them.
fn input_bytes(inputs: &Inputs) -> (&'static str, Vec<u8>) {
    match inputs {
        Inputs::Floats(x) => ("floats", x.iter().flat_map(|v| v.to_le_bytes()).collect()),
        Inputs::Tokens(t) => (
            "tokens",
            t.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect(),
        ),
    }
}

#[test]
fn every_example_whose_data_ships_matches_on_real_samples() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    let mut ran = Vec::new();
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&file).unwrap();
        let g = crate::check_file(&source, &examples, &CheckOptions::default())
            .unwrap_or_else(|d| panic!("{name}: {d:#?}"));
        let seed = g.experiment.train.seed;
        let data = match crate::data::load(&g.experiment.data, &examples, seed) {
            Ok(d) => d,
            // CIFAR-10 is not shipped (its file says where to get it).
            Err(_) if name == "cifar10_lenet" => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        let net = compile(&g, 5);
        // The first samples of the first held-out split (else training's),
        // as the source holds them: dlwb gets them normalized.
        let which = [Which::Test, Which::Val, Which::Train]
            .into_iter()
            .find(|w| data.split(*w).is_some())
            .unwrap();
        let mut plan = data.plan(which, 4, 0, None).unwrap();
        let normalization = plan.normalize.take();
        let raw = plan.epoch(0).next().unwrap();
        let mut normalized = raw.inputs.clone();
        if let (Some(n), Inputs::Floats(x)) = (&normalization, &mut normalized) {
            for s in std::sync::Arc::make_mut(x).chunks_mut(g.facts.input.elements()) {
                n.apply(s);
            }
        }
        let ours = net.outputs(&normalized, raw.size, Pass::Eval).unwrap();
        let host = net.params.all_host().unwrap();
        let weights = |n: &str| host[net.params.index(n).unwrap()].clone();
        let norm = normalization.as_ref().map(|n| Normalize {
            mean: &n.mean,
            std: &n.std,
        });
        let bytes = model(&g, &weights, norm).unwrap();
        let dir = std::env::temp_dir().join(format!("dlwb-onnx-ex-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (kind, input) = input_bytes(&raw.inputs);
        std::fs::write(dir.join("input.bin"), input).unwrap();
        let mut shape = vec![raw.size];
        shape.extend(g.facts.input.dims());
        close(&name, &ours, &onnxruntime(&dir, &bytes, kind, &shape));
        let _ = std::fs::remove_dir_all(&dir);
        ran.push(name);
    }
    assert!(ran.len() >= 6, "examples run: {ran:?}");
}
