//! `dlwb runs`: a table of runs tied to their settings.

mod common;

use common::{dlwb, tempdir, text};
use serde_json::Value;

const FILE: &str = "let width = 8
experiment tab
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense width relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 2 }
";

#[test]
fn runs_lists_every_run_with_the_settings_that_differ_sorted_by_a_metric() {
    let dir = tempdir("runs-table");
    std::fs::write(dir.join("tab.net"), FILE).unwrap();
    for (lr, width) in [("0.001", "8"), ("0.05", "24")] {
        let out = dlwb(
            &dir,
            &[
                "--headless",
                "tab.net",
                "--set",
                &format!("train.optimizer=adam lr={lr}"),
                "--set",
                &format!("let.width={width}"),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = dlwb(&dir, &["runs", "--json", "--sort", "val.loss"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let loss: Vec<f64> = rows
        .iter()
        .map(|r| r["metrics"]["val.loss"].as_f64().unwrap())
        .collect();
    assert!(loss[0] <= loss[1], "best first: {loss:?}");
    for r in &rows {
        assert_eq!(r["experiment"], "tab");
        assert_eq!(r["status"], "completed");
        assert!(r["run_dir"].as_str().unwrap().starts_with("runs/tab/"));
        // The best validation loss over the epochs is no worse than the last.
        assert!(
            r["best"]["val.loss"].as_f64().unwrap() <= r["metrics"]["val.loss"].as_f64().unwrap()
        );
    }
    let widths: Vec<&str> = rows
        .iter()
        .map(|r| r["settings"]["let.width"].as_str().unwrap())
        .collect();
    assert!(
        widths.contains(&"8") && widths.contains(&"24"),
        "{widths:?}"
    );

    // The table and CSV show only the settings that differ.
    let out = dlwb(&dir, &["runs", "--csv"]);
    let header = text(&out.stdout).lines().next().unwrap().to_string();
    assert!(
        header.contains("train.optimizer.lr") && header.contains("let.width"),
        "{header}"
    );
    assert!(!header.contains("train.batch"), "{header}");
    assert!(
        header.starts_with("run,experiment,started,status,"),
        "{header}"
    );
    let first = text(&out.stdout).lines().nth(1).unwrap().to_string();
    let started = first.split(',').nth(2).unwrap();
    assert_eq!(started.len(), "2026-12-03T12:55:43".len(), "{first}");
    assert!(
        started.starts_with("20") && started.contains('T'),
        "{first}"
    );

    let out = dlwb(&dir, &["runs", "--sort", "val.los"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean `val.loss`?"),
        "{}",
        text(&out.stderr)
    );
}
