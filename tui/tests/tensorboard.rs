//! A run's event file, read by TensorBoard's own reader.

mod common;

use common::{dlwb, first_run, run_python, tempdir};

const FILE: &str = "experiment tb
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense 16 relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 3 }
";

/// Prints every scalar tag with its steps and values, every histogram tag
/// with its steps and counts, and the text tags, as JSON.
const READ: &str = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
acc.Reload()
tags = acc.Tags()
out = {
    "scalars": {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]},
    "histograms": {t: [[e.step, e.histogram_value.num] for e in acc.Histograms(t)] for t in tags["histograms"]},
    "text": {t: [e.tensor_proto.string_val[0].decode() for e in acc.Tensors(t)] for t in tags["tensors"]},
}
print(json.dumps(out))
"#;

#[test]
fn tensorboard_reads_every_metric_histogram_and_the_source() {
    let dir = tempdir("tensorboard");
    std::fs::write(dir.join("tb.net"), FILE).unwrap();
    let out = dlwb(&dir, &["--headless", "tb.net"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out.stderr));
    let run = first_run(&dir.join("runs/tb"));
    let read = run_python(READ, &[run.to_str().unwrap()]);
    let got: serde_json::Value = serde_json::from_str(&read).unwrap();

    // 150 training samples in batches of 50: 3 steps an epoch, 9 in all.
    let train_loss = got["scalars"]["train/loss"].as_array().unwrap();
    let steps: Vec<u64> = train_loss.iter().map(|p| p[0].as_u64().unwrap()).collect();
    assert_eq!(steps, (0..9).collect::<Vec<_>>());
    // The values are metrics.csv's step rows (as f32).
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let first: f64 = csv
        .lines()
        .find(|l| l.starts_with("step,0,0,train.loss,"))
        .and_then(|l| l.rsplit(',').next())
        .unwrap()
        .parse()
        .unwrap();
    let tb_first = train_loss[0][1].as_f64().unwrap();
    assert!(
        (tb_first - first).abs() <= 1e-6 * first.abs(),
        "{tb_first} vs {first}"
    );

    // Validation at each epoch's end.
    let val: Vec<u64> = got["scalars"]["val/accuracy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_u64().unwrap())
        .collect();
    assert_eq!(val, [3, 6, 9]);

    // Every trainable parameter's histogram each epoch, of all its values.
    for (tag, n) in [
        ("dense1/weight", 32),
        ("dense1/bias", 16),
        ("dense2/weight", 32),
        ("dense2/bias", 2),
    ] {
        let h = got["histograms"][tag]
            .as_array()
            .unwrap_or_else(|| panic!("{tag}: {read}"));
        let steps: Vec<u64> = h.iter().map(|p| p[0].as_u64().unwrap()).collect();
        assert_eq!(steps, [3, 6, 9], "{tag}");
        assert!(
            h.iter().all(|p| p[1].as_f64().unwrap() == n as f64),
            "{tag}: {h:?}"
        );
    }
    assert_eq!(got["text"]["experiment.net"][0].as_str().unwrap(), FILE);
}
