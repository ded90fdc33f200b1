//! `dlwb export`: the bundled MNIST examples' models, exported and run by
//! onnxruntime on the bundled test images, give the test accuracy dlwb
//! recorded.

mod common;

use common::{dlwb, first_run, root, run_python, tempdir, text};

/// Accuracy of an ONNX model on MNIST's IDX test files, read with numpy.
const ACCURACY: &str = r#"
import sys, gzip, numpy as np, onnxruntime as ort
def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
model, images, labels = sys.argv[1:4]
x = idx(images).astype(np.float32)[:, None, :, :] / 255.0
y = idx(labels)
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
logits = s.run(["logits"], {"input": x})[0]
print(repr(float((logits.argmax(1) == y).mean())))
# The first 100 images as an IDX file of their own, with ONNX's classes.
with gzip.open(images, "rb") as f:
    raw = f.read()
head = bytearray(raw[:16]); head[4:8] = (100).to_bytes(4, "big")
open(sys.argv[4], "wb").write(bytes(head) + raw[16:16 + 100 * 784])
print(",".join(str(c) for c in logits[:100].argmax(1)))
"#;

/// Exports `example` after an epoch's training; onnxruntime's accuracy on
/// the test images must be the run's, and `dlwb predict` on the first 100
/// must give onnxruntime's classes.
fn exported_accuracy_matches_the_run(example: &str) {
    let runs = tempdir(&format!("export-{example}"));
    let (run, model) = trained_and_exported(example, &runs, &[]);
    let record: serde_yaml::Value = common::yaml(&run.join("run.yaml"));
    let recorded = record["metrics"]["test.accuracy"].as_f64().unwrap();
    let mnist = root().join("examples/data/mnist");
    let first = runs.join("first100.idx");
    let printed = run_python(
        ACCURACY,
        &[
            model.to_str().unwrap(),
            mnist.join("t10k-images-idx3-ubyte.gz").to_str().unwrap(),
            mnist.join("t10k-labels-idx1-ubyte.gz").to_str().unwrap(),
            first.to_str().unwrap(),
        ],
    );
    let mut lines = printed.lines();
    let got: f64 = lines.next().unwrap().parse().unwrap();
    let onnx_classes: Vec<u64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    // Ten thousand images: the same predictions, or one or two ties on the
    // edge of float rounding.
    assert!(
        (got - recorded).abs() <= 2e-4,
        "{example}: onnxruntime {got}, dlwb {recorded}"
    );
    let out = dlwb(
        &root(),
        &[
            "predict",
            run.to_str().unwrap(),
            first.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ours: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let total: f64 = v["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .sum();
            assert!((total - 1.0).abs() < 1e-4, "{l}");
            v["class"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        ours, onnx_classes,
        "{example}: dlwb predict and onnxruntime disagree"
    );
}

#[test]
fn the_exported_mlp_gives_its_recorded_test_accuracy() {
    exported_accuracy_matches_the_run("mnist_mlp");
}

#[test]
fn the_exported_lenet_gives_its_recorded_test_accuracy() {
    exported_accuracy_matches_the_run("mnist_lenet");
}

#[test]
fn export_refuses_a_folder_that_is_not_a_run() {
    let dir = tempdir("export-refuse");
    let out = dlwb(&dir, &["export", dir.to_str().unwrap(), "-o", "m.onnx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("run.yaml"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.join("m.onnx").exists());
}

/// The probabilities of the first `n` images of an IDX file under an ONNX
/// model, as JSON rows.
const PROBABILITIES: &str = r#"
import sys, json, gzip, numpy as np, onnxruntime as ort
model, images = sys.argv[1:3]
with open(images, "rb") as f:
    raw = f.read()
n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32) / 255.0
logits = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["logits"], {"input": x})[0]
e = np.exp(logits - logits.max(1, keepdims=True))
print(json.dumps((e / e.sum(1, keepdims=True)).tolist()))
"#;

#[test]
fn every_other_mnist_example_exports_to_the_probabilities_dlwb_predicts() {
    let dir = tempdir("export-examples");
    // Eight test images as an IDX file of their own.
    let images = dir.join("eight.idx");
    run_python(
        "import sys, gzip\nraw = gzip.open(sys.argv[1]).read()\nh = bytearray(raw[:16]); h[4:8] = (8).to_bytes(4, 'big')\nopen(sys.argv[2], 'wb').write(bytes(h) + raw[16:16 + 8 * 784])",
        &[
            root()
                .join("examples/data/mnist/t10k-images-idx3-ubyte.gz")
                .to_str()
                .unwrap(),
            images.to_str().unwrap(),
        ],
    );
    for example in ["compress", "regularized_mlp", "residual_mlp"] {
        let runs = dir.join(example);
        let (run, model) = trained_and_exported(example, &runs, &["--limit-batches", "2"]);
        let theirs: Vec<Vec<f64>> = serde_json::from_str(
            run_python(
                PROBABILITIES,
                &[model.to_str().unwrap(), images.to_str().unwrap()],
            )
            .trim(),
        )
        .unwrap();
        let out = dlwb(
            &root(),
            &[
                "predict",
                run.to_str().unwrap(),
                images.to_str().unwrap(),
                "--json",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{example}: {}",
            text(&out.stderr)
        );
        let ours: Vec<Vec<f64>> = text(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["probabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_f64().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(ours.len(), 8, "{example}");
        for (a, b) in ours.iter().flatten().zip(theirs.iter().flatten()) {
            assert!(
                (a - b).abs() <= 1e-4,
                "{example}: dlwb {a}, onnxruntime {b}"
            );
        }
    }
}

/// Trains `examples/EXAMPLE.net` for an epoch (with `extra` flags) into
/// `runs`, then exports it: the run folder and the model's path.
fn trained_and_exported(
    example: &str,
    runs: &std::path::Path,
    extra: &[&str],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let file = root().join(format!("examples/{example}.net"));
    let mut args = vec![
        "--headless",
        file.to_str().unwrap(),
        "--epochs",
        "1",
        "--runs-dir",
        runs.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = dlwb(&root(), &args);
    // The examples' goals need full training: a missed `expect` is fine.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{example}: {}",
        text(&out.stderr)
    );
    // runs/EXPERIMENT/TIMESTAMP: the one run of the one experiment.
    let run = first_run(&first_run(runs));
    let model = runs.join("model.onnx");
    let out = dlwb(
        &root(),
        &[
            "export",
            run.to_str().unwrap(),
            "-o",
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{example}: {}",
        text(&out.stderr)
    );
    (run, model)
}
