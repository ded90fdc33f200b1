//! What the binary's test files share: where the repository is, fresh
//! folders, running `dlwb`, and finding a run's folder.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (examples and their data live under it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A fresh, empty folder for the test named `tag` in this process.
pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dlwb-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dlwb ARGS` run in `dir`, without colour.
pub fn dlwb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlwb"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The first run folder under `runs` (`runs/EXPERIMENT`): tests start one
/// run per experiment folder.
pub fn first_run(runs: &Path) -> PathBuf {
    runs.read_dir().unwrap().next().unwrap().unwrap().path()
}

/// The Python of the test venv that `scripts/test.sh` sets up, with the
/// tools users read dlwb's files with (onnxruntime, tensorboard, numpy).
/// Tests that need it fail, saying how to get it, rather than skip.
pub fn python() -> PathBuf {
    match std::env::var_os("DLWB_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = root().join("target/test-venv/bin/python");
            assert!(
                venv.exists(),
                "this test reads dlwb's output with Python tools: run `scripts/test.sh`, which installs them into target/test-venv"
            );
            venv
        }
    }
}

/// Runs `script` with the test venv's Python and `args`; its stdout.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A YAML file of a run or sweep folder (`run.yaml`, `sweep.yaml`), parsed.
pub fn yaml(path: &Path) -> serde_yaml::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
