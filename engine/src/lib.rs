//! The engine: compiles a checked layer graph to run-time-shaped layers
//! over dfdx tensors, loads data, and trains.
//!
//! dfdx 0.13 sizes its `nn` modules and optimizers by const generics, which
//! a network read from a file cannot use. So every layer here is one custom
//! op: host kernels (`kernels/`) compute forward and backward on flat
//! buffers, and `autograd.rs` records them on dfdx's tape, where gradients
//! accumulate per tensor id. Parameters are dfdx tensors in one named list
//! (`params.rs`) that optimizers (dfdx's update kernels where it has them),
//! checkpoints, histograms and warm starts all walk.
//!
//! Front ends talk to the engine through plain types; no dfdx type crosses
//! this crate's public API except through `autograd`, which only the
//! engine's own tests use.

pub mod autograd;
pub mod bench;
pub mod compress;
pub mod data;
pub mod device;
pub mod kernels;
mod layers;
pub mod loss;
pub mod network;
pub mod optim;
pub mod params;
pub mod run;
pub mod seeds;
pub mod teacher;
pub mod trainer;

use std::path::Path;

use dlwb_dsl::{CheckOptions, Diagnostic, Graph};

/// Parses and checks a file, learning from its data files what the file
/// cannot say itself (a corpus's vocabulary, a CSV's classes), and loading
/// the teacher a `distill` line names.
pub fn check_file(
    source: &str,
    base_dir: &Path,
    opts: &CheckOptions,
) -> Result<Graph, Vec<Diagnostic>> {
    let graph = check_alone(source, base_dir, opts)?;
    if let Some(d) = graph
        .experiment
        .compress
        .as_ref()
        .and_then(|c| c.distill.as_ref())
    {
        teacher::load(d, base_dir, &graph).map_err(|why| {
            vec![Diagnostic::error(d.span, why)
                .with_hint("distill trains against a checked teacher and its trained weights")]
        })?;
    }
    Ok(graph)
}

/// [`check_file`] without loading a teacher.
pub fn check_alone(
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
