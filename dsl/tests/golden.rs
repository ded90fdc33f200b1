//! The examples that ship in `examples/` check, and their summaries stay as
//! kept in `tests/golden/*.summary` (rewrite with `UPDATE_EXPECT=1`). The
//! files are read where users find them, so they cannot drift from a copy.

mod common;

use std::fs;
use std::path::Path;

fn golden(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/golden");
    let example = root.join("../examples").join(format!("{name}.net"));
    let source =
        fs::read_to_string(&example).unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    let graph = dlwb_dsl::parse_and_check(&source, common::LEARNED, &common::OPTS)
        .unwrap_or_else(|d| panic!("{name} does not check: {d:#?}"));
    let actual = dlwb_dsl::summary::render(&graph);
    let path = dir.join(format!("{name}.summary"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        fs::write(&path, &actual).unwrap();
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, expected, "summary of {name} changed");
}

#[test]
fn mnist_mlp() {
    golden("mnist_mlp");
}

#[test]
fn cifar10_lenet() {
    golden("cifar10_lenet");
}

#[test]
fn char_lstm() {
    golden("lstm");
}

#[test]
fn residual_mlp() {
    golden("residual_mlp");
}

#[test]
fn mnist_lenet() {
    golden("mnist_lenet");
}

#[test]
fn compress() {
    golden("compress");
}

#[test]
fn mnist_lenet_compress() {
    golden("mnist_lenet_compress");
}

#[test]
fn deep_compression() {
    golden("deep_compression");
}

#[test]
fn regularized_mlp() {
    golden("regularized_mlp");
}

/// Every example has its summary kept here: a new one cannot go unchecked.
#[test]
fn every_example_has_a_golden_summary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in fs::read_dir(root.join("../examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "net") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let summary = root.join("tests/golden").join(format!("{stem}.summary"));
            assert!(
                summary.is_file(),
                "{} has no golden summary",
                path.display()
            );
        }
    }
}
