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

/// The engine's top-level modules (`backend`, `run`, a file like
/// `loss.rs`) and the others each names through `crate::`, outside
/// comments.
fn engine_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = workspace().join("engine/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut deps = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "tests" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("a source file");
        let named = deps.entry(module.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let other = &rest[..end];
                if other != module && !other.is_empty() {
                    named.insert(other.to_string());
                }
            }
        }
    }
    deps
}

#[test]
fn no_import_circle_between_engine_modules() {
    let deps = engine_imports();
    // Depth-first search: a module met again while still on the path
    // closes a circle.
    fn visit<'a>(
        m: &'a str,
        deps: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut circle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            circle.push(m.to_string());
            return Some(circle);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for next in deps.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for m in deps.keys() {
        if let Some(circle) = visit(m, &deps, &mut Vec::new(), &mut done) {
            panic!("engine modules import each other: {}", circle.join(" -> "));
        }
    }
}
