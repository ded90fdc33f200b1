//! `dlwb report`: markdown with the runs' figures, and SVG charts that a
//! real renderer (rsvg-convert) draws into images that are not blank.

mod common;

use std::process::Command;

use common::{dlwb, run_python, tempdir, text};

const FILE: &str = "experiment rep
data synthetic spirals { classes 2; samples 200; validation 25% }
model { dense 8 relu; dense classes }
train { optimizer adam lr=0.01; batch 50; epochs 3 }
expect { val.accuracy >= 0.0 }
";

/// How many distinct colours a PNG holds.
const COLOURS: &str = r#"
import sys
from PIL import Image
print(len(Image.open(sys.argv[1]).convert("RGB").getcolors(1 << 24)))
"#;

#[test]
fn a_report_of_two_runs_has_their_figures_and_charts_that_draw() {
    let dir = tempdir("report");
    std::fs::write(dir.join("rep.net"), FILE).unwrap();
    for lr in ["0.01", "0.05"] {
        let set = format!("train.optimizer=adam lr={lr}");
        let out = dlwb(&dir, &["--headless", "rep.net", "--set", &set]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        // Two runs in one second get folders apart anyway.
    }
    let mut runs: Vec<String> = std::fs::read_dir(dir.join("runs/rep"))
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2);
    let summary = dir.join("summary.md");
    let out = Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(["report", &runs[0], &runs[1], "-o", "out"])
        .current_dir(&dir)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("# dlwb report: rep"), "{md}");
    // Only the setting that differs, with both values.
    assert!(md.contains("| run | lr |") && md.contains("0.0500"), "{md}");
    assert!(
        md.contains("val.accuracy") && md.contains("| met |"),
        "{md}"
    );
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), md);
    let charts: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![").and_then(|l| l.split("](").nth(1)))
        .map(|l| l.trim_end_matches(')'))
        .collect();
    for chart in ["loss.svg", "accuracy.svg", "weights-dense1-weight.svg"] {
        assert!(charts.contains(&chart), "{chart} not in {charts:?}");
    }
    for chart in charts {
        let png = dir.join(format!("{chart}.png"));
        let drawn = Command::new("rsvg-convert")
            .arg(dir.join("out").join(chart))
            .arg("-o")
            .arg(&png)
            .output()
            .expect("rsvg-convert (librsvg2-bin; scripts/test.sh installs it)");
        assert!(drawn.status.success(), "{chart}: {}", text(&drawn.stderr));
        let colours: usize = run_python(COLOURS, &[png.to_str().unwrap()])
            .trim()
            .parse()
            .unwrap();
        assert!(colours > 10, "{chart} draws {colours} colours: blank");
    }
}

#[test]
fn a_run_with_no_metrics_is_refused() {
    let dir = tempdir("report-empty");
    let run = dir.join("runs/x/2026-01-01T00-00-00Z");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("run.yaml"), "experiment: x\nmetrics: {}\n").unwrap();
    std::fs::write(run.join("metrics.csv"), "kind,epoch,step,metric,value\n").unwrap();
    let out = dlwb(&dir, &["report", run.to_str().unwrap(), "-o", "out"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no metrics"),
        "{}",
        text(&out.stderr)
    );
}
