//! `sweep.yaml`: the axes, and for every trial its settings, status, run
//! folder, final metrics and expect verdicts; rewritten as each trial
//! ends, so that what finished is kept whatever happens to the rest.

use std::path::{Path, PathBuf};

use dlwb_engine::run::{ExpectResult, Metrics};
use serde::{Deserialize, Serialize};

use super::trials::{Axes, Settings};
use crate::table;

/// Each trial's own record, in its folder.
const TRIAL: &str = "trial.yaml";

/// Trial `n`'s folder in the sweep folder `dir`: its run folders and
/// `trial.yaml`.
pub fn trial_dir(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("trial-{n}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    Pending,
    Running,
    Completed,
    /// Completed its rung, and successive halving kept others.
    Stopped,
    Interrupted,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    pub trial: usize,
    pub settings: Settings,
    pub status: TrialStatus,
    pub run_dir: Option<PathBuf>,
    pub metrics: Metrics,
    pub expect: Vec<ExpectResult>,
    pub error: Option<String>,
    /// Successive halving's rung the trial reached (0: the first).
    #[serde(default)]
    pub rung: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepRecord {
    pub experiment: String,
    pub file: String,
    pub axes: Axes,
    /// The metric trials are ranked by, and whether lower is better.
    pub monitor: String,
    pub minimize: bool,
    /// The file's epochs: successive halving's last rung.
    #[serde(default)]
    pub epochs: usize,
    pub trials: Vec<Trial>,
    /// The best completed trial by the monitored metric.
    pub best: Option<usize>,
    /// The Slurm job array running the trials, once submitted.
    #[serde(default)]
    pub slurm_job: Option<String>,
}

impl Trial {
    /// Trial `trial` of `settings`, not started.
    pub fn pending((trial, settings): (usize, Settings)) -> Trial {
        Trial {
            trial,
            settings,
            status: TrialStatus::Pending,
            run_dir: None,
            metrics: Metrics::new(),
            expect: Vec::new(),
            error: None,
            rung: 0,
        }
    }
}

impl TrialStatus {
    pub fn name(self) -> &'static str {
        match self {
            TrialStatus::Pending => "pending",
            TrialStatus::Running => "running",
            TrialStatus::Completed => "completed",
            TrialStatus::Stopped => "stopped",
            TrialStatus::Interrupted => "interrupted",
            TrialStatus::Failed => "failed",
        }
    }
}

impl SweepRecord {
    /// Trials in rank order: completed ones by the monitored metric (best
    /// first), then the rest by number.
    pub fn ranked(&self) -> Vec<&Trial> {
        let mut t: Vec<&Trial> = self.trials.iter().collect();
        let key = |t: &Trial| {
            (t.status == TrialStatus::Completed)
                .then(|| t.metrics.get(&self.monitor).copied())
                .flatten()
        };
        t.sort_by(|a, b| {
            table::best_first(key(a), key(b), self.minimize).then(a.trial.cmp(&b.trial))
        });
        t
    }

    /// The record `dir` holds, each trial as its own `trial.yaml` last
    /// said (a Slurm task writes only that), or why it cannot be read.
    pub fn read(dir: &Path) -> Result<SweepRecord, String> {
        let path = dir.join("sweep.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut record: SweepRecord = serde_yaml::from_str(&text)
            .map_err(|e| format!("{} is not a sweep record: {e}", path.display()))?;
        for t in &mut record.trials {
            let path = trial_dir(dir, t.trial).join(TRIAL);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            *t = serde_yaml::from_str(&text)
                .map_err(|e| format!("{} is not a trial record: {e}", path.display()))?;
        }
        record.update_best();
        Ok(record)
    }

    /// Writes trial `n`'s own `trial.yaml` in its folder, whole or not at
    /// all: the one file a trial's process writes.
    pub fn write_trial(&self, dir: &Path, n: usize) -> std::io::Result<()> {
        let folder = trial_dir(dir, n);
        std::fs::create_dir_all(&folder)?;
        let text = serde_yaml::to_string(&self.trials[n]).map_err(std::io::Error::other)?;
        let tmp = folder.join(format!("{TRIAL}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, folder.join(TRIAL))
    }

    pub fn update_best(&mut self) {
        self.best = self
            .ranked()
            .first()
            .filter(|t| t.status == TrialStatus::Completed && t.metrics.contains_key(&self.monitor))
            .map(|t| t.trial);
    }

    /// Writes `sweep.yaml` in `dir`, whole or not at all.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_yaml::to_string(self).map_err(std::io::Error::other)?;
        let tmp = dir.join("sweep.yaml.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, dir.join("sweep.yaml"))
    }

    /// The settings whose values differ between trials.
    pub fn differing(&self) -> Vec<String> {
        table::differing(self.trials.iter().map(|t| &t.settings))
    }

    /// The end-of-sweep table, ranked, with the best trial named.
    pub fn table(&self) -> Vec<String> {
        let keys = self.differing();
        let mut rows = vec![{
            let mut h = vec!["trial".to_string()];
            h.extend(keys.iter().cloned());
            h.extend([self.monitor.clone(), "status".into(), "expect".into()]);
            h
        }];
        for t in self.ranked() {
            let mut r = vec![t.trial.to_string()];
            r.extend(
                keys.iter()
                    .map(|k| t.settings.get(k).cloned().unwrap_or_default()),
            );
            r.push(
                t.metrics
                    .get(&self.monitor)
                    .map_or(String::new(), |v| format!("{v:.4}")),
            );
            r.push(t.status.name().to_string());
            let met = t.expect.iter().filter(|e| e.met).count();
            r.push(table::verdicts(met, t.expect.len()));
            rows.push(r);
        }
        let mut lines = table::aligned(&rows);
        if let Some(b) = self.best {
            let dir = self.trials[b]
                .run_dir
                .as_ref()
                .map_or(String::new(), |d| format!(" ({})", d.display()));
            lines.push(format!("best: trial {b}{dir}"));
        }
        lines
    }
}
