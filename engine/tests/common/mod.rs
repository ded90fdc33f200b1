//! What the run test files share: fresh folders, a config for a source,
//! and a run's whole event stream.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dlwb_dsl::{CheckOptions, Learned};
use dlwb_engine::run::{self, Event, RunConfig};

/// A fresh, empty folder for the test named `tag` in this process.
pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlwb-runs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A checked run of `source` with its folders under `runs`, on one thread
/// (so that figures are the same bits every time).
pub fn config(source: &str, runs: &Path) -> RunConfig {
    let g = dlwb_dsl::parse_and_check(source, Learned::default(), &CheckOptions::default())
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let mut cfg = RunConfig::new(runs.join("x.net"), source.to_string(), g);
    cfg.runs_dir = runs.to_path_buf();
    cfg.threads = Some(1);
    cfg
}

/// Every event of a run, to its end.
pub fn events(cfg: RunConfig) -> Vec<Event> {
    let (handle, rx) = run::start(cfg);
    let all: Vec<Event> = rx.iter().collect();
    handle.join();
    all
}
