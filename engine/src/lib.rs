//! The engine: compiles a checked layer graph to dfdx, loads data, trains,
//! and writes runs. Front ends talk to it through plain types and an event
//! stream; no dfdx type crosses this crate's public surface.

pub mod data;

use std::path::Path;

use dlwb_dsl::{CheckOptions, Diagnostic, Graph};

/// Parses and checks a file, learning from its data files what the file
/// cannot say itself (a corpus's vocabulary, a CSV's classes).
pub fn check_file(
    source: &str,
    base_dir: &Path,
    opts: &CheckOptions,
) -> Result<Graph, Vec<Diagnostic>> {
    let exp = dlwb_dsl::parse(source)?;
    let learned = data::learn(&exp.data, base_dir).map_err(|e| {
        let span = exp.data.path_span.unwrap_or(exp.data.span);
        vec![Diagnostic::error(span, e.to_string()).with_hint(e.hint())]
    })?;
    let facts = exp
        .data
        .facts(learned)
        .map_err(|why| vec![Diagnostic::error(exp.data.span, why)])?;
    dlwb_dsl::check(&exp, &facts, opts)
}
