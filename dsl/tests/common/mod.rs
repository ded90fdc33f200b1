//! Helpers shared by the dsl's integration tests.

#![allow(dead_code)]

use dlwb_dsl::{render, CheckOptions, Learned};

/// Facts the engine would learn from a corpus: tests use a 65-character one.
pub const LEARNED: Learned = Learned {
    vocab: Some(65),
    classes: None,
};

/// A fixed memory budget, so that the memory check does not depend on the
/// machine running the tests.
pub const OPTS: CheckOptions = CheckOptions {
    memory_budget: Some(16 << 30),
};

/// Every diagnostic of a source, as `line:col: severity: message (hint)`.
pub fn diagnostics(source: &str) -> Vec<String> {
    let diags = match dlwb_dsl::parse_and_check(source, LEARNED, &OPTS) {
        Ok(g) => g.warnings,
        Err(d) => d,
    };
    render::lines(&diags, "", source)
        .into_iter()
        .map(|l| l.trim_start_matches(':').to_string())
        .collect()
}
