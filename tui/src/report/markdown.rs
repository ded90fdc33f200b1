//! The report's markdown: the runs, the settings that matter, the final
//! metrics, the expect verdicts, compression, and the charts.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_yaml::Value;

use super::charts::Chart;
use crate::finished::FinishedRun;

/// A setting and where the record holds it.
const SETTINGS: [(&str, &[&str]); 6] = [
    ("optimizer", &["train", "optimizer", "kind"]),
    ("lr", &["train", "optimizer", "lr"]),
    ("batch", &["train", "batch"]),
    ("epochs", &["train", "epochs"]),
    ("seed", &["seed"]),
    ("threads", &["threads"]),
];

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

pub fn report(runs: &[FinishedRun], charts: &[Chart]) -> String {
    let mut md = String::new();
    let names: BTreeSet<String> = runs.iter().map(|r| show(&r.record["experiment"])).collect();
    let names: Vec<String> = names.into_iter().collect();
    let _ = writeln!(md, "# dlwb report: {}\n", names.join(", "));
    table(
        &mut md,
        &["run", "file", "status", "epochs", "parameters"],
        runs.iter().map(|r| {
            vec![
                r.label(),
                show(&r.record["file"]),
                show(&r.record["status"]),
                show(&r.record["epochs_run"]),
                show(&r.record["params"]),
            ]
        }),
    );
    settings(&mut md, runs);
    metrics(&mut md, runs);
    expect(&mut md, runs);
    compression(&mut md, runs);
    if !charts.is_empty() {
        md.push_str("## Charts\n\n");
        for c in charts {
            let _ = writeln!(md, "![{}]({})\n", c.title, c.file);
        }
    }
    md
}

fn table(md: &mut String, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let _ = writeln!(md, "| {} |", r.join(" | "));
    }
    md.push('\n');
}

/// Every setting for one run; for several, those that differ.
fn settings(md: &mut String, runs: &[FinishedRun]) {
    let shown: Vec<&(&str, &[&str])> = SETTINGS
        .iter()
        .filter(|(_, path)| {
            runs.len() == 1 || {
                let values: BTreeSet<String> =
                    runs.iter().map(|r| show(at(&r.record, path))).collect();
                values.len() > 1
            }
        })
        .collect();
    if shown.is_empty() {
        return;
    }
    md.push_str("## Settings\n\n");
    let mut head = vec!["run"];
    head.extend(shown.iter().map(|(n, _)| *n));
    table(
        md,
        &head,
        runs.iter().map(|r| {
            let mut row = vec![r.label()];
            row.extend(shown.iter().map(|(_, p)| show(at(&r.record, p))));
            row
        }),
    );
}

fn metrics(md: &mut String, runs: &[FinishedRun]) {
    let names: BTreeSet<String> = runs
        .iter()
        .filter_map(|r| r.record["metrics"].as_mapping())
        .flat_map(|m| m.keys().map(show))
        .collect();
    if names.is_empty() {
        return;
    }
    md.push_str("## Final metrics\n\n");
    let labels: Vec<String> = runs.iter().map(FinishedRun::label).collect();
    let mut head = vec!["metric"];
    head.extend(labels.iter().map(String::as_str));
    table(
        md,
        &head,
        names.iter().map(|n| {
            let mut row = vec![n.clone()];
            row.extend(runs.iter().map(|r| show(&r.record["metrics"][n.as_str()])));
            row
        }),
    );
}

fn expect(md: &mut String, runs: &[FinishedRun]) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|r| {
            let items = r.record["expect"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            items.into_iter().map(move |e| {
                let met = e["met"].as_bool().unwrap_or(false);
                vec![
                    r.label(),
                    show(&e["expect"]),
                    show(&e["value"]),
                    if met { "met" } else { "**missed**" }.into(),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    md.push_str("## Expect\n\n");
    table(md, &["run", "goal", "value", "verdict"], rows.into_iter());
}

fn compression(md: &mut String, runs: &[FinishedRun]) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .flat_map(|r| {
            let steps = r.record["compression"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            steps.into_iter().map(move |s| {
                vec![
                    r.label(),
                    show(&s["step"]),
                    format!(
                        "{} → {}",
                        show(&s["before"]["bytes"]),
                        show(&s["after"]["bytes"])
                    ),
                    format!(
                        "{} → {}",
                        show(&s["before"]["accuracy"]),
                        show(&s["after"]["accuracy"])
                    ),
                    format!(
                        "{} → {}",
                        show(&s["before"]["samples_per_s"]),
                        show(&s["after"]["samples_per_s"])
                    ),
                    show(&s["after"]["kernel"]),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    md.push_str("## Compression\n\n");
    table(
        md,
        &[
            "run",
            "step",
            "bytes",
            "accuracy",
            "inference samples/s",
            "kernel",
        ],
        rows.into_iter(),
    );
}
