//! What a run tells its front ends, and what they may ask of it. Both the
//! dashboard and `--headless` consume exactly these events, so they cannot
//! disagree about what happened.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Metrics by dotted name: `train.loss`, `val.accuracy`, `test.bpc`, ...
pub type Metrics = BTreeMap<String, f64>;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        experiment: String,
        run_dir: PathBuf,
        device: String,
        threads: usize,
        params: usize,
        epochs: usize,
        steps_per_epoch: usize,
        train_samples: usize,
        layers: Vec<LayerRow>,
        /// Parameters kept from a previous run, and those initialized anew.
        warm_kept: usize,
        warm_reinitialized: usize,
        /// Where a resumed run goes on: epochs done, steps of the next.
        resumed_at: Option<(usize, usize)>,
    },
    Step {
        epoch: usize,
        step: usize,
        /// Steps since the run began.
        global_step: usize,
        loss: f64,
        accuracy: Option<f64>,
        lr: f64,
        samples_per_s: f64,
        /// Estimated seconds until training ends.
        eta_s: f64,
    },
    Epoch {
        epoch: usize,
        global_step: usize,
        lr: f64,
        metrics: Metrics,
        seconds: f64,
    },
    Histograms {
        epoch: usize,
        global_step: usize,
        params: Vec<Histogram>,
    },
    Sample {
        epoch: usize,
        text: String,
    },
    /// What each compression step cost.
    Compression {
        reports: Vec<crate::compress::Report>,
    },
    Log {
        message: String,
    },
    Finished {
        status: Status,
        metrics: Metrics,
        expect: Vec<ExpectResult>,
        run_dir: PathBuf,
    },
    Failed {
        kind: FailureKind,
        error: String,
        run_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub kind: String,
    pub output: String,
    pub params: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every epoch ran (or early stopping ended it).
    Completed,
    /// Stopped on request.
    Stopped,
    /// Stopped by Ctrl-C or a termination signal.
    Interrupted,
}

/// Why a run failed, which front ends turn into exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The data is missing, corrupt, or does not fit the file.
    InvalidData,
    /// A loss, gradient or weight became NaN or infinite.
    Diverged,
    /// The run folder or a checkpoint could not be written.
    Io,
    /// The training thread panicked: a bug in dlwb, reported with where.
    Crashed,
}

impl FailureKind {
    /// What `run.yaml` says of a run that ended this way.
    pub fn status(self) -> super::record::RunStatus {
        use super::record::RunStatus;
        match self {
            FailureKind::Diverged => RunStatus::Diverged,
            FailureKind::Crashed => RunStatus::Crashed,
            FailureKind::InvalidData | FailureKind::Io => RunStatus::Failed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectResult {
    /// The goal as written: `test.accuracy >= 0.975`.
    pub expect: String,
    pub metric: String,
    pub value: Option<f64>,
    pub met: bool,
    pub line: usize,
}

/// A parameter's distribution: a histogram and percentiles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub name: String,
    pub min: f32,
    pub max: f32,
    pub counts: Vec<u32>,
    /// The 0, 10, 25, 50, 75, 90 and 100th percentiles.
    pub percentiles: [f32; 7],
}

/// Requests to a running run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    /// Stop after the current step, saving a checkpoint.
    Stop,
    /// Like `Stop`, with the status `interrupted`.
    Interrupt,
    SaveCheckpoint,
}
