//! `dlwb runs [DIR]`: one row per run folder under DIR — experiment,
//! start, status, the settings that differ between the rows, each final
//! metric with its best over the epochs, expect verdicts — as a table,
//! CSV or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dlwb_dsl::metric::Metric;
use dlwb_engine::run::record::{read_metrics, Row as MetricsRow, RECORD};
use serde_json::json;
use serde_yaml::Value;

use crate::cli::RunsArgs;
use crate::finished::{self, run_folders, text};
use crate::{exit, load, out, table};

/// One run as the table shows it.
struct Row {
    dir: PathBuf,
    experiment: String,
    started: String,
    status: String,
    /// Every setting, flattened: `train.optimizer.lr` → `0.001`.
    settings: BTreeMap<String, String>,
    metrics: BTreeMap<String, f64>,
    /// Each metric's best over the epochs (min for losses, max else).
    best: BTreeMap<String, f64>,
    expect: Vec<(String, bool)>,
    /// Runs collapsed into this row (seed groups), and each metric's
    /// standard deviation over them.
    runs: Vec<PathBuf>,
    spread: BTreeMap<String, f64>,
    /// The run an edit started this one from (the dashboard's reload).
    parent: Option<PathBuf>,
    /// How deep in the tree of edits the table shows it.
    depth: usize,
}

/// Rows in the tree of edits: each run followed by the runs started from
/// it (depth-first), in time order otherwise.
fn as_tree(rows: Vec<Row>) -> Vec<Row> {
    let keys: Vec<_> = rows.iter().map(|r| table::label(&r.dir)).collect();
    let parent_of: Vec<Option<usize>> = rows
        .iter()
        .map(|r| {
            r.parent
                .as_ref()
                .and_then(|p| keys.iter().position(|k| *k == table::label(p)))
        })
        .collect();
    let mut order = Vec::new();
    fn visit(i: usize, depth: usize, parent_of: &[Option<usize>], order: &mut Vec<(usize, usize)>) {
        order.push((i, depth));
        for (child, p) in parent_of.iter().enumerate() {
            if *p == Some(i) {
                visit(child, depth + 1, parent_of, order);
            }
        }
    }
    for (i, p) in parent_of.iter().enumerate() {
        if p.is_none() {
            visit(i, 0, &parent_of, &mut order);
        }
    }
    let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, depth)| {
            slots[i].take().map(|mut r| {
                r.depth = depth;
                r
            })
        })
        .collect()
}

/// Runs that differ only in their seed, collapsed into one row each: every
/// metric as the mean (with the standard deviation beside it).
fn group_seeds(rows: Vec<Row>) -> Vec<Row> {
    let mut groups: Vec<(BTreeMap<String, String>, Vec<Row>)> = Vec::new();
    for r in rows {
        let mut key = finished::without_seeds(&r.settings);
        key.insert("experiment".into(), r.experiment.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.into_iter().map(|(_, g)| collapse(g)).collect()
}

fn collapse(mut g: Vec<Row>) -> Row {
    if g.len() == 1 {
        return g.remove(0);
    }
    let stats = |pick: &dyn Fn(&Row) -> Option<f64>| -> Option<(f64, f64)> {
        let v: Vec<f64> = g.iter().filter_map(pick).collect();
        if v.is_empty() {
            return None;
        }
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        Some((mean, var.sqrt()))
    };
    let names: BTreeSet<String> = g.iter().flat_map(|r| r.metrics.keys().cloned()).collect();
    let (mut metrics, mut spread, mut best) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for n in &names {
        if let Some((m, s)) = stats(&|r| r.metrics.get(n).copied()) {
            metrics.insert(n.clone(), m);
            spread.insert(n.clone(), s);
        }
        if let Some((m, _)) = stats(&|r| r.best.get(n).copied()) {
            best.insert(n.clone(), m);
        }
    }
    let statuses: BTreeSet<&str> = g.iter().map(|r| r.status.as_str()).collect();
    let settings = finished::without_seeds(&g[0].settings);
    Row {
        dir: g[0].dir.clone(),
        experiment: g[0].experiment.clone(),
        started: g[0].started.clone(),
        status: statuses.into_iter().collect::<Vec<_>>().join("+"),
        settings,
        metrics,
        best,
        expect: g.iter().flat_map(|r| r.expect.clone()).collect(),
        runs: g.iter().map(|r| r.dir.clone()).collect(),
        spread,
        parent: None,
        depth: 0,
    }
}

pub fn run(args: &RunsArgs) -> u8 {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("runs"));
    let mut rows: Vec<Row> = match run_folders(&dir) {
        Ok(folders) => folders.iter().filter_map(|f| read(f).ok()).collect(),
        Err(why) => {
            load::error(args.json, &dir.display().to_string(), &why);
            return exit::INVALID;
        }
    };
    if args.sort.is_none() {
        rows = as_tree(rows);
    }
    if let Some(m) = &args.sort {
        let Some(metric) = Metric::parse(m) else {
            let near = dlwb_dsl::diagnostic::closest(m, dlwb_dsl::metric::NAMES);
            let hint = near.map_or(String::new(), |n| format!("; did you mean `{n}`?"));
            load::error(args.json, "", &format!("`--sort {m}`: not a metric{hint}"));
            return exit::INVALID;
        };
        // Best first; runs without the metric last.
        let key = |r: &Row| r.metrics.get(m).copied();
        rows.sort_by(|a, b| table::best_first(key(a), key(b), metric.minimize()));
    }
    if args.group_seeds {
        rows = group_seeds(rows);
    }
    let differing = differing(&rows);
    if args.json {
        for r in &rows {
            if !out::line(as_json(r)) {
                break;
            }
        }
    } else if args.csv {
        print_csv(&rows, &differing);
    } else {
        print_table(&rows, &differing);
    }
    exit::OK
}

fn read(dir: &Path) -> Result<Row, String> {
    let record: Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.join(RECORD)).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let settings = finished::settings(&record);
    let metrics: BTreeMap<String, f64> = record["metrics"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((text(k), v.as_f64()?)))
        .collect();
    let expect = record["expect"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|e| (text(&e["expect"]), e["met"].as_bool().unwrap_or(false)))
        .collect();
    Ok(Row {
        dir: dir.to_path_buf(),
        experiment: text(&record["experiment"]),
        started: text(&record["started"]),
        status: text(&record["status"]),
        settings,
        best: best_over_epochs(dir),
        metrics,
        expect,
        runs: vec![dir.to_path_buf()],
        spread: BTreeMap::new(),
        parent: record["parent"]["run_dir"].as_str().map(PathBuf::from),
        depth: 0,
    })
}

/// Each metric's best value over the epoch rows of metrics.csv.
fn best_over_epochs(dir: &Path) -> BTreeMap<String, f64> {
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    for r in read_metrics(dir)
        .into_iter()
        .filter(|r| r.row == MetricsRow::Epoch)
    {
        let Some(m) = Metric::parse(&r.metric) else {
            continue;
        };
        let v = r.value;
        let b = best.entry(r.metric).or_insert(v);
        *b = if m.minimize() { b.min(v) } else { b.max(v) };
    }
    best
}

/// The settings whose values are not the same in every row.
fn differing(rows: &[Row]) -> Vec<String> {
    table::differing(rows.iter().map(|r| &r.settings))
}

/// The final metrics, each with whether some run has its value per epoch
/// (then a "best" column follows it).
fn metric_names(rows: &[Row]) -> Vec<(String, bool)> {
    let names: BTreeSet<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    names
        .into_iter()
        .map(|n| (n.clone(), rows.iter().any(|r| r.best.contains_key(n))))
        .collect()
}

fn as_json(r: &Row) -> serde_json::Value {
    let expect: Vec<_> = r
        .expect
        .iter()
        .map(|(e, met)| json!({ "expect": e, "met": met }))
        .collect();
    json!({
        "run_dir": r.dir,
        "experiment": r.experiment,
        "started": r.started,
        "status": r.status,
        "settings": r.settings,
        "metrics": r.metrics,
        "best": r.best,
        "expect": expect,
        "runs": r.runs,
        "std": r.spread,
        "parent": r.parent,
    })
}

/// The cells of a row: identity, differing settings, metrics (final and
/// best), and how many goals were met.
fn cells(r: &Row, differing: &[String], metrics: &[(String, bool)]) -> Vec<String> {
    let mut c = vec![
        match r.runs.len() {
            1 if r.depth > 0 => format!("{}└ {}", "  ".repeat(r.depth - 1), r.dir.display()),
            1 => r.dir.display().to_string(),
            n => format!("{} (+{} seeds)", r.dir.display(), n - 1),
        },
        r.experiment.clone(),
        // To the second: `2026-12-03T12:55:43`.
        r.started.get(..19).unwrap_or(&r.started).to_string(),
        r.status.clone(),
    ];
    c.extend(
        differing
            .iter()
            .map(|k| r.settings.get(k).cloned().unwrap_or_default()),
    );
    let show = |v: Option<&f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for (m, per_epoch) in metrics {
        c.push(match (r.metrics.get(m), r.spread.get(m)) {
            (Some(v), Some(s)) => format!("{v:.4} ± {s:.4}"),
            (v, _) => show(v),
        });
        if *per_epoch {
            c.push(show(r.best.get(m)));
        }
    }
    let met = r.expect.iter().filter(|(_, m)| *m).count();
    c.push(table::verdicts(met, r.expect.len()));
    c
}

fn header(differing: &[String], metrics: &[(String, bool)]) -> Vec<String> {
    let mut h: Vec<String> = ["run", "experiment", "started", "status"]
        .map(String::from)
        .to_vec();
    h.extend(differing.iter().cloned());
    for (m, per_epoch) in metrics {
        h.push(m.clone());
        if *per_epoch {
            h.push(format!("best {m}"));
        }
    }
    h.push("expect".into());
    h
}

fn print_csv(rows: &[Row], differing: &[String]) {
    let metrics = metric_names(rows);
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let line = |cells: Vec<String>| cells.iter().map(|c| quote(c)).collect::<Vec<_>>().join(",");
    let mut lines = std::iter::once(header(differing, &metrics))
        .chain(rows.iter().map(|r| cells(r, differing, &metrics)));
    lines.all(|cells| out::line(line(cells)));
}

fn print_table(rows: &[Row], differing: &[String]) {
    let metrics = metric_names(rows);
    let mut all = vec![header(differing, &metrics)];
    all.extend(rows.iter().map(|r| cells(r, differing, &metrics)));
    for line in table::aligned(&all) {
        if !out::line(line) {
            break;
        }
    }
}
