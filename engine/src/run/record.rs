//! The run folder: `runs/<experiment>/<UTC timestamp>/` with the source as
//! it ran, `run.yaml`, `metrics.csv` and `checkpoint.safetensors`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dlwb_dsl::experiment::{DataSpec, TrainSpec};
use serde::Serialize;

use super::events::{ExpectResult, Metrics};

pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// What `run.yaml` holds.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub experiment: String,
    pub file: String,
    pub dlwb_version: String,
    pub started: String,
    pub finished: Option<String>,
    pub status: String,
    pub seed: u64,
    pub device: String,
    pub threads: usize,
    pub params: usize,
    pub train: TrainSpec,
    pub data: DataSpec,
    /// Command-line overrides that changed the file's settings.
    pub overrides: Vec<String>,
    /// Text data: the vocabulary in token order, so that sampling agrees.
    pub vocab: Option<String>,
    /// CSV data: the class names in index order.
    pub classes: Option<Vec<String>>,
    pub error: Option<String>,
    pub metrics: Metrics,
    pub expect: Vec<ExpectResult>,
    pub epochs_run: usize,
    /// Each compression step with its figures before and after.
    pub compression: Vec<crate::compress::Report>,
}

pub struct RunDir {
    pub path: PathBuf,
    metrics: BufWriter<File>,
}

/// `2026-11-29T08-45-00Z`: a UTC timestamp that is a valid file name
/// everywhere and sorts in time order.
pub fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-")
}

pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl RunDir {
    /// Creates the folder (a suffix keeps two runs in one second apart)
    /// and writes the source as it ran.
    pub fn create(runs_dir: &Path, experiment: &str, source: &str) -> std::io::Result<RunDir> {
        let parent = runs_dir.join(experiment);
        std::fs::create_dir_all(&parent)?;
        let stamp = timestamp();
        let mut path = parent.join(&stamp);
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = parent.join(format!("{stamp}-{n}"));
        }
        std::fs::create_dir(&path)?;
        std::fs::write(path.join("experiment.net"), source)?;
        let mut metrics = BufWriter::new(File::create(path.join("metrics.csv"))?);
        writeln!(metrics, "kind,epoch,step,metric,value")?;
        Ok(RunDir { path, metrics })
    }

    /// Reopens a folder to continue it (`--resume`).
    pub fn reopen(path: &Path) -> std::io::Result<RunDir> {
        let metrics = BufWriter::new(
            std::fs::OpenOptions::new()
                .append(true)
                .open(path.join("metrics.csv"))?,
        );
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics,
        })
    }

    pub fn row(
        &mut self,
        kind: &str,
        epoch: usize,
        step: usize,
        metrics: &BTreeMap<String, f64>,
    ) -> std::io::Result<()> {
        for (k, v) in metrics {
            writeln!(self.metrics, "{kind},{epoch},{step},{k},{v}")?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.metrics.flush()
    }

    pub fn write_record(&self, record: &RunRecord) -> std::io::Result<()> {
        let yaml = serde_yaml::to_string(record).map_err(std::io::Error::other)?;
        super::checkpoint::write_atomically(&self.path.join("run.yaml"), yaml.as_bytes())
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT)
    }
}
