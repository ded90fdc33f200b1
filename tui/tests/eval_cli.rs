//! `dlwb eval`: a run's model on a split of its data, with the figures its
//! run.yaml holds.

mod common;

use common::{dlwb, first_run, tempdir, text};
use serde_json::Value;

const FILE: &str = "experiment ev
data synthetic spirals { classes 3; samples 600; validation 20%; test 20% }
model { dense 32 relu; dense classes }
train { optimizer adam lr=0.01; batch 32; epochs 3 }
";

/// A trained run of `source` in a fresh folder: (folder, run folder).
fn trained(tag: &str, source: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = tempdir(tag);
    std::fs::write(dir.join("ev.net"), source).unwrap();
    let out = dlwb(&dir, &["--headless", "ev.net"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run = first_run(&dir.join("runs/ev"));
    (dir, run)
}

fn record(run: &std::path::Path) -> serde_yaml::Value {
    common::yaml(&run.join("run.yaml"))
}

fn eval_json(dir: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec!["eval"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = dlwb(dir, &all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_str(text(&out.stdout).trim()).unwrap()
}

#[test]
fn eval_gives_the_test_and_validation_figures_of_run_yaml_bit_for_bit() {
    let (dir, run) = trained("eval-figures", FILE);
    let rec = record(&run);
    let run_arg = run.strip_prefix(&dir).unwrap().to_str().unwrap();
    let test = eval_json(&dir, &[run_arg]);
    for m in ["test.accuracy", "test.loss"] {
        assert_eq!(
            test["metrics"][m].as_f64(),
            rec["metrics"][m].as_f64(),
            "{m}"
        );
    }
    assert_eq!(test["run_dir"], run_arg);
    assert!(test["checkpoint"]
        .as_str()
        .unwrap()
        .ends_with("checkpoint.safetensors"));
    let val = eval_json(&dir, &[run_arg, "--split", "val"]);
    for m in ["val.accuracy", "val.loss"] {
        assert_eq!(
            val["metrics"][m].as_f64(),
            rec["metrics"][m].as_f64(),
            "{m}"
        );
    }
}

#[test]
fn eval_of_the_int8_model_gives_the_accuracy_compression_reported() {
    let source = format!("{FILE}compress {{ quantize int8 }}\n");
    let (dir, run) = trained("eval-int8", &source);
    let rec = record(&run);
    let reported = rec["compression"][0]["after"]["accuracy"].as_f64().unwrap();
    let model = run.join("model.int8.safetensors");
    let got = eval_json(
        &dir,
        &[
            run.to_str().unwrap(),
            "--checkpoint",
            model.to_str().unwrap(),
        ],
    );
    assert_eq!(got["metrics"]["test.accuracy"].as_f64(), Some(reported));
}

#[test]
fn eval_refuses_a_folder_that_is_not_a_run_and_another_models_weights() {
    let (dir, run) = trained("eval-refuse", FILE);
    let out = dlwb(&dir, &["eval", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("run.yaml"),
        "{}",
        text(&out.stderr)
    );

    // Weights of a model with other layers.
    let other = FILE.replace("dense 32 relu", "dense 8 relu");
    std::fs::write(dir.join("other.net"), &other).unwrap();
    let out = dlwb(
        &dir,
        &["--headless", "other.net", "--runs-dir", "other-runs"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let theirs = first_run(&dir.join("other-runs/ev")).join("checkpoint.safetensors");
    let out = dlwb(
        &dir,
        &[
            "eval",
            run.to_str().unwrap(),
            "--checkpoint",
            theirs.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("dense1.weight") && err.contains("another model"),
        "{err}"
    );
}
