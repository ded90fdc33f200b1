//! Reading and checking a `.net` file for any command, with diagnostics
//! printed the same way everywhere.

use std::io::Write;
use std::path::Path;

use dlwb_dsl::{render, CheckOptions, Diagnostic, Graph};

use crate::system;

use crate::exit::INVALID;

/// A checked file: its text as it will run (overrides applied) and graph.
pub struct Loaded {
    pub source: String,
    pub graph: Graph,
}

/// Reads, applies `sets`, and checks; on failure prints why and returns
/// the exit code.
pub fn load(file: &Path, sets: &[String], json: bool) -> Result<Loaded, u8> {
    let path = file.display().to_string();
    let original = std::fs::read_to_string(file).map_err(|e| {
        error(json, &path, &format!("cannot read {path}: {e}"));
        INVALID
    })?;
    load_source(
        file,
        &original,
        file.parent().unwrap_or(Path::new(".")),
        sets,
        json,
    )
}

/// Like [`load`] for a text already read: `named` names it in messages,
/// and data paths are relative to `base`.
pub fn load_source(
    named: &Path,
    original: &str,
    base: &Path,
    sets: &[String],
    json: bool,
) -> Result<Loaded, u8> {
    let path = named.display().to_string();
    match check(original, base, sets) {
        Ok(loaded) => {
            report(&loaded.graph.warnings, &path, &loaded.source, json);
            Ok(loaded)
        }
        Err(Refusal::Override(e)) => {
            error(json, &path, &e);
            Err(INVALID)
        }
        Err(Refusal::File { source, diags }) => {
            report(&diags, &path, &source, json);
            Err(INVALID)
        }
    }
}

/// Why a text does not check: an override that does not apply, or the
/// diagnostics of the text with the overrides in it.
enum Refusal {
    Override(String),
    File {
        source: String,
        diags: Vec<Diagnostic>,
    },
}

/// Applies `sets` to `original` and checks it, its data relative to `base`.
fn check(original: &str, base: &Path, sets: &[String]) -> Result<Loaded, Refusal> {
    let source = dlwb_dsl::overrides::apply(original, sets).map_err(Refusal::Override)?;
    let opts = CheckOptions {
        memory_budget: system::available_memory(),
    };
    match dlwb_engine::check_file(&source, base, &opts) {
        Ok(graph) => Ok(Loaded { source, graph }),
        Err(diags) => Err(Refusal::File { source, diags }),
    }
}

/// An error that no line of a file carries: `error: ...` on stderr, or
/// with `--json` a JSON line shaped as the diagnostics are (an array of
/// one, without a line), so that a JSON reader sees every error.
pub fn error(json: bool, file: &str, message: &str) {
    if json {
        let item = serde_json::json!([{
            "severity": "error",
            "message": message,
            "file": file,
        }]);
        let _ = writeln!(std::io::stderr(), "{item}");
    } else {
        let _ = writeln!(std::io::stderr(), "error: {message}");
    }
}

/// Checks a source without printing: diagnostics come back as one-line
/// `path:line:col: error: message (hint)` strings for the dashboard.
pub fn check_quietly(file: &Path, source: &str, sets: &[String]) -> Result<Loaded, Vec<String>> {
    let path = file.display().to_string();
    let base = file.parent().unwrap_or(Path::new("."));
    check(source, base, sets).map_err(|r| match r {
        Refusal::Override(e) => vec![e],
        Refusal::File { source, diags } => render::lines(&diags, &path, &source),
    })
}

pub fn report(diags: &[Diagnostic], path: &str, source: &str, json: bool) {
    if diags.is_empty() {
        return;
    }
    if json {
        let _ = writeln!(std::io::stderr(), "{}", render::json(diags, path, source));
    } else {
        let _ = write!(
            std::io::stderr(),
            "{}",
            render::report(diags, path, source, system::stderr_color())
        );
    }
}
