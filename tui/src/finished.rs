//! Finished runs read back from their folders, for the commands that look
//! at them (`runs`, `report`, `view`): where the run folders under a
//! folder are, a run's record, settings, metrics rows, and its parameters'
//! distributions from its event file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dlwb_engine::run::record::{read_metrics, Row, RECORD};
use dlwb_engine::run::tfevents::{read_histograms, Bands};
use serde_yaml::Value;

pub struct FinishedRun {
    pub dir: PathBuf,
    pub record: serde_yaml::Value,
    /// Each metric's points `(step, value)`, by row kind: `step` rows
    /// (training), `epoch` rows (validation and epoch averages).
    pub steps: BTreeMap<String, Vec<(f64, f64)>>,
    pub epochs: BTreeMap<String, Vec<(f64, f64)>>,
    pub bands: Vec<Bands>,
}

impl FinishedRun {
    pub fn read(dir: &Path) -> Result<FinishedRun, String> {
        let record_path = dir.join(RECORD);
        let text = std::fs::read_to_string(&record_path)
            .map_err(|e| format!("cannot read {}: {e}", record_path.display()))?;
        let record: serde_yaml::Value = serde_yaml::from_str(&text)
            .map_err(|e| format!("{} is not a run record: {e}", record_path.display()))?;
        let (mut steps, mut epochs) = (BTreeMap::new(), BTreeMap::new());
        for r in read_metrics(dir) {
            let rows = match r.row {
                Row::Step => &mut steps,
                Row::Epoch => &mut epochs,
                Row::Final => continue,
            };
            rows.entry(r.metric)
                .or_insert_with(Vec::new)
                .push((r.step as f64, r.value));
        }
        let has_final = record["metrics"]
            .as_mapping()
            .is_some_and(|m| !m.is_empty());
        if steps.is_empty() && epochs.is_empty() && !has_final {
            return Err(format!(
                "{} has no metrics to report: it trained no step",
                dir.display()
            ));
        }
        Ok(FinishedRun {
            dir: dir.to_path_buf(),
            record,
            steps,
            epochs,
            bands: read_histograms(dir).unwrap_or_default(),
        })
    }

    /// The run's name in a report: its folder's last two components.
    pub fn label(&self) -> String {
        crate::table::label(&self.dir)
    }

    pub fn settings(&self) -> BTreeMap<String, String> {
        settings(&self.record)
    }
}

/// The run folders under `dir` (those holding a run.yaml: a sweep's
/// trials too, deeper down; `dir` itself when it is one), by start time.
pub fn run_folders(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    collect(dir, 0, &mut out);
    out.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    Ok(out)
}

/// Run folders below `dir`, at most five levels down
/// (`sweep/trial/EXPERIMENT/TIMESTAMP` is four).
fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join(RECORD).is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for p in entries.filter_map(Result::ok).map(|e| e.path()) {
        if p.is_dir() && depth < 5 {
            collect(&p, depth + 1, out);
        }
    }
}

/// The settings a seed group may differ in.
pub const SEEDS: [&str; 2] = ["seed", "train.seed"];

/// `settings` less the seeds: what runs of one seed group share.
pub fn without_seeds(settings: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut s = settings.clone();
    s.retain(|k, _| !SEEDS.contains(&k.as_str()));
    s
}

/// A run record's settings, flattened: `train.optimizer.lr` → `0.001`,
/// its `seed`, and the `let` constants set on the command line.
pub fn settings(record: &Value) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    flatten("train", &record["train"], &mut settings);
    flatten("data", &record["data"], &mut settings);
    settings.insert("seed".into(), text(&record["seed"]));
    // (The sections' settings are in `train` and `data` already, resolved.)
    for o in record["overrides"].as_sequence().into_iter().flatten() {
        if let Some((k, v)) = text(o)
            .split_once('=')
            .filter(|(k, _)| k.starts_with("let."))
        {
            settings.insert(k.to_string(), v.to_string());
        }
    }
    settings
}

/// A record's value as a table cell shows it.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        // An enum's variant with its value: `fraction 0.2`.
        Value::Tagged(t) => format!(
            "{} {}",
            t.tag.to_string().trim_start_matches('!'),
            text(&t.value)
        ),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// `prefix.key` → value for every leaf of a mapping.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{}", text(k)), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), text(leaf));
        }
    }
}
