//! One file per mistake a person makes, under `tests/invalid/`. Each ends
//! with `# expect:` comment lines: the exact diagnostics, as
//! `line:col: severity: message (hint: ...)`, that checking it must give.
//! Run with `UPDATE_EXPECT=1` to rewrite them after a deliberate change, then
//! review the diff.

mod common;

use std::fs;
use std::path::Path;

const MARK: &str = "# expect: ";

#[test]
fn every_invalid_file_reports_its_mistake_at_its_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "net"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} invalid files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with(MARK))
            .map(|l| format!("{l}\n"))
            .collect();
        let expected: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix(MARK)).collect();
        let actual = common::diagnostics(&text);
        if update {
            let mut out = body.clone();
            for line in &actual {
                out.push_str(MARK);
                out.push_str(line);
                out.push('\n');
            }
            fs::write(path, out).unwrap();
            continue;
        }
        if actual.is_empty() {
            failures.push(format!("{}: no diagnostic at all", path.display()));
        } else if expected != actual {
            failures.push(format!(
                "{}:\n  expected: {expected:#?}\n  actual:   {actual:#?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
