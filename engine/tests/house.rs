//! Rules of the house that the compiler does not check: where dfdx may be
//! named, and how long a source file may grow.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the engine sits in the workspace")
        .to_path_buf()
}

#[test]
fn dfdx_is_named_only_in_the_cpu_backend() {
    let engine = workspace().join("engine/src");
    let backend = engine.join("backend/cpu");
    let mut files = Vec::new();
    sources(&engine, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&backend))
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("a source file");
            text.contains("use dfdx") || text.contains("dfdx::")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "dfdx named outside backend/cpu/: {offenders:?}"
    );
}

#[test]
fn no_source_file_is_over_600_lines() {
    let mut files = Vec::new();
    for krate in ["dsl", "engine", "tui"] {
        for dir in ["src", "tests", "benches"] {
            let d = workspace().join(krate).join(dir);
            if d.is_dir() {
                sources(&d, &mut files);
            }
        }
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f)
                .expect("a source file")
                .lines()
                .count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "over 600 lines: {long:?}");
}
