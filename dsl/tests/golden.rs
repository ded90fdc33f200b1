//! The four examples of the language sketch check, and their summaries stay
//! as kept in `tests/golden/*.summary` (rewrite with `UPDATE_EXPECT=1`).

mod common;

use std::fs;
use std::path::Path;

fn golden(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let source = fs::read_to_string(dir.join(format!("{name}.net"))).unwrap();
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
