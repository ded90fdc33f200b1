//! The run folder: `runs/<experiment>/<UTC timestamp>/` with the source as
//! it ran, `run.yaml`, `metrics.csv` and `checkpoint.safetensors`, held by
//! one process at a time through an advisory lock on `run.lock`.

use super::tfevents::{Cadence, EventFile};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dlwb_dsl::experiment::{DataSpec, TrainSpec};
use serde::{Deserialize, Serialize};

use super::events::{ExpectResult, Metrics};
use super::lock::{LockError, RunLock};

pub const CHECKPOINT: &str = "checkpoint.safetensors";
pub const RECORD: &str = "run.yaml";
pub const METRICS: &str = "metrics.csv";
pub const SOURCE: &str = "experiment.net";
const METRICS_HEADER: &str = "kind,epoch,step,metric,value";

/// Where a run stands, as `run.yaml` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    Stopped,
    Interrupted,
    Diverged,
    /// The training thread panicked; `error` says where.
    Crashed,
    /// An I/O error or bad data ended it.
    Failed,
}

/// What `run.yaml` holds.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub experiment: String,
    pub file: String,
    pub dlwb_version: String,
    pub started: String,
    /// When the run was continued with `--resume`, oldest first.
    pub resumed: Vec<String>,
    pub finished: Option<String>,
    pub status: RunStatus,
    pub seed: u64,
    pub device: String,
    pub threads: usize,
    /// `--limit-batches`, which a resumed run keeps.
    pub limit_batches: Option<usize>,
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
    /// Where an edit started this run from.
    pub parent: Option<Parent>,
    /// The Slurm job this run ran in, when it ran under Slurm.
    pub slurm: Option<SlurmTask>,
}

/// Where under Slurm a run ran: its job, the job array and task it belongs
/// to (when it is an array's task), and the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlurmTask {
    pub job_id: String,
    pub array_job_id: Option<String>,
    pub array_task_id: Option<usize>,
    pub node: Option<String>,
}

/// The run an edit started a run from: its folder, the global step it had
/// reached, and the edit as a unified diff of the `.net` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    pub run_dir: PathBuf,
    pub step: usize,
    pub diff: String,
}

/// The part of an earlier `run.yaml` that resuming needs.
#[derive(Debug, Clone, Deserialize)]
pub struct PastRecord {
    pub file: String,
    pub started: String,
    #[serde(default)]
    pub resumed: Vec<String>,
    pub status: RunStatus,
    pub threads: usize,
    #[serde(default)]
    pub limit_batches: Option<usize>,
    #[serde(default)]
    pub overrides: Vec<String>,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub epochs_run: usize,
    pub train: PastTrain,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PastTrain {
    pub epochs: usize,
}

impl PastRecord {
    pub fn read(run_dir: &Path) -> Result<PastRecord, String> {
        let path = run_dir.join(RECORD);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_yaml::from_str(&text)
            .map_err(|e| format!("{} is not a run record: {e}", path.display()))
    }
}

/// Which rows of an earlier `metrics.csv` a resumed run keeps: those its
/// checkpoint had already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Step rows with a global step below this.
    pub steps_done: usize,
    /// Epoch rows of epochs below this.
    pub epochs_done: usize,
}

impl Cut {
    fn keeps(&self, line: &str) -> bool {
        let mut f = line.split(',');
        let (kind, epoch, step) = (f.next(), f.next(), f.next());
        let num = |v: Option<&str>| v.and_then(|v| v.parse::<usize>().ok());
        match (kind, num(epoch), num(step)) {
            (Some("step"), _, Some(s)) => s < self.steps_done,
            (Some("epoch"), Some(e), _) => e < self.epochs_done,
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A row of `metrics.csv`: one training step, an epoch's end, or the
/// run's final figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Step,
    Epoch,
    Final,
}

impl Row {
    const ALL: [Row; 3] = [Row::Step, Row::Epoch, Row::Final];

    /// The row's first column.
    pub fn name(self) -> &'static str {
        match self {
            Row::Step => "step",
            Row::Epoch => "epoch",
            Row::Final => "final",
        }
    }
}

/// One line of `metrics.csv`, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub row: Row,
    pub epoch: usize,
    pub step: usize,
    pub metric: String,
    pub value: f64,
}

impl MetricRow {
    fn parse(line: &str) -> Option<MetricRow> {
        let f: Vec<&str> = line.split(',').collect();
        let [kind, epoch, step, metric, value] = f[..] else {
            return None;
        };
        Some(MetricRow {
            row: Row::ALL.into_iter().find(|r| r.name() == kind)?,
            epoch: epoch.parse().ok()?,
            step: step.parse().ok()?,
            metric: metric.to_string(),
            value: value.parse().ok()?,
        })
    }
}

/// The rows of a run folder's `metrics.csv` (none when it has none);
/// malformed lines are left out.
pub fn read_metrics(run_dir: &Path) -> Vec<MetricRow> {
    let csv = std::fs::read_to_string(run_dir.join(METRICS)).unwrap_or_default();
    csv.lines().skip(1).filter_map(MetricRow::parse).collect()
}

pub struct RunDir {
    pub path: PathBuf,
    metrics: BufWriter<File>,
    /// TensorBoard's view of the same rows, a new file per session.
    events: EventFile,
    _lock: RunLock,
}

/// A new event file with the `.net` source as text at step 0.
fn events_with_source(dir: &Path, source: &str) -> std::io::Result<EventFile> {
    let mut events = EventFile::create(dir)?;
    events.text(SOURCE, 0, source)?;
    Ok(events)
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
    /// Creates the folder (a suffix keeps two runs in one second apart),
    /// locks it and writes the source as it ran.
    pub fn create(runs_dir: &Path, experiment: &str, source: &str) -> Result<RunDir, RunDirError> {
        let parent = runs_dir.join(experiment);
        std::fs::create_dir_all(&parent)?;
        let stamp = timestamp();
        let mut n = 1;
        let path = loop {
            let path = match n {
                1 => parent.join(&stamp),
                _ => parent.join(format!("{stamp}-{n}")),
            };
            // create_dir fails on an existing folder: two processes
            // starting in one second cannot take the same one.
            match std::fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(e.into()),
            }
        };
        let lock = RunLock::acquire(&path)?;
        std::fs::write(path.join(SOURCE), source)?;
        let mut metrics = BufWriter::new(File::create(path.join(METRICS))?);
        writeln!(metrics, "{METRICS_HEADER}")?;
        let events = events_with_source(&path, source)?;
        Ok(RunDir {
            path,
            metrics,
            events,
            _lock: lock,
        })
    }

    /// Reopens a locked folder to continue it (`--resume`), dropping the
    /// metrics rows that came after its checkpoint, so that the resumed
    /// run's `metrics.csv` reads as if it had never stopped.
    /// `source` is what the run goes on with (flags given to `--resume`
    /// may have changed it), kept as `experiment.net`.
    pub fn reopen(
        path: &Path,
        lock: RunLock,
        cut: Cut,
        source: &str,
    ) -> Result<RunDir, RunDirError> {
        super::checkpoint::write_atomically(&path.join(SOURCE), source.as_bytes())?;
        let file = path.join(METRICS);
        let old = std::fs::read_to_string(&file).unwrap_or_default();
        let mut kept = String::from(METRICS_HEADER);
        kept.push('\n');
        for line in old.lines().skip(1).filter(|l| cut.keeps(l)) {
            kept.push_str(line);
            kept.push('\n');
        }
        super::checkpoint::write_atomically(&file, kept.as_bytes())?;
        let metrics = BufWriter::new(std::fs::OpenOptions::new().append(true).open(&file)?);
        let events = events_with_source(path, source)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics,
            events,
            _lock: lock,
        })
    }

    pub fn row(
        &mut self,
        row: Row,
        epoch: usize,
        step: usize,
        metrics: &BTreeMap<String, f64>,
    ) -> std::io::Result<()> {
        let kind = row.name();
        for (k, v) in metrics {
            writeln!(self.metrics, "{kind},{epoch},{step},{k},{v}")?;
        }
        let cadence = match row {
            Row::Step => Cadence::EveryStep,
            Row::Epoch | Row::Final => Cadence::Sparse,
        };
        self.events.scalars(cadence, step as u64, metrics)
    }

    /// Each parameter's values at `step`, for TensorBoard's histograms.
    pub fn histograms<'a>(
        &mut self,
        step: usize,
        params: impl IntoIterator<Item = (&'a str, &'a [f32])>,
    ) -> std::io::Result<()> {
        self.events.histograms(step as u64, params)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.metrics.flush()?;
        self.events.flush()
    }

    pub fn write_record(&self, record: &RunRecord) -> std::io::Result<()> {
        write_record(&self.path, record)
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT)
    }
}

/// Writes `run.yaml` in `run_dir`, atomically.
pub fn write_record(run_dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    let yaml = serde_yaml::to_string(record).map_err(std::io::Error::other)?;
    super::checkpoint::write_atomically(&run_dir.join(RECORD), yaml.as_bytes())
}
