//! A finished run's folder opened for the commands that read it (`eval`,
//! `export`): its record, its own `experiment.net` checked against its
//! data, and where that data lives.

use std::path::{Path, PathBuf};

use dlwb_engine::run::record::{PastRecord, CHECKPOINT, SOURCE};

use crate::exit;
use crate::load::{self, Loaded};

pub struct OpenRun {
    pub record: PastRecord,
    pub loaded: Loaded,
    /// The folder its data paths are relative to: the run's `.net` file's.
    pub base: PathBuf,
}

impl OpenRun {
    /// `run`, or the exit code after saying why it cannot be read.
    pub fn open(run: &Path, json: bool) -> Result<OpenRun, u8> {
        Self::open_with(run, &[], json)
    }

    /// [`OpenRun::open`] with settings applied to the run's source.
    pub fn open_with(run: &Path, sets: &[String], json: bool) -> Result<OpenRun, u8> {
        let refuse = |why: &str| {
            load::error(json, &run.display().to_string(), why);
            exit::INVALID
        };
        let record = PastRecord::read(run).map_err(|why| refuse(&why))?;
        let source_path = run.join(SOURCE);
        let source = std::fs::read_to_string(&source_path)
            .map_err(|e| refuse(&format!("cannot read {}: {e}", source_path.display())))?;
        let base = Path::new(&record.file)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let loaded = load::load_source(&source_path, &source, &base, sets, json)?;
        Ok(OpenRun {
            record,
            loaded,
            base,
        })
    }

    /// The weights a command reads: `given`, else the run's checkpoint.
    pub fn weights(run: &Path, given: &Option<PathBuf>) -> PathBuf {
        given.clone().unwrap_or_else(|| run.join(CHECKPOINT))
    }
}
