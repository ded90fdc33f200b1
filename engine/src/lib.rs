//! The engine: compiles a checked layer graph to run-time-shaped layers
//! on a backend, loads data, and trains.
//!
//! Every layer is one op written against the backend boundary
//! (`backend/`): device buffers and the kernels each layer needs, forward
//! and backward. The engine's own tape (`autograd.rs`) records each op's
//! backward, with gradients accumulated per value. Parameters live on the
//! backend in one named list (`params.rs`) that optimizers, checkpoints,
//! histograms and warm starts all walk. The CPU backend (`backend/cpu/`)
//! runs the host kernels of `kernels/` and dfdx's update kernels.
//!
//! Front ends talk to the engine through plain types: runs and their
//! events, checking, benchmarks and data. No backend type crosses the
//! crate's public API; the layers, losses, optimizers and parameters are
//! the crate's own, and so are their tests (`src/tests/`).

// What the front ends use: runs (with their events, records and reports),
// checking, benchmarks, devices, and the data sources. The kernels stay
// public for the benches: they take plain slices.
pub mod bench;
pub mod data;
pub mod device;
pub mod eval;
pub mod export;
pub mod kernels;
pub mod predict;
pub mod run;

// The machinery behind a run, which no front end touches.
pub(crate) mod autograd;
pub(crate) mod backend;
pub(crate) mod compress;
mod layers;
pub(crate) mod loss;
pub(crate) mod network;
pub(crate) mod optim;
pub(crate) mod panic;
pub(crate) mod params;
pub(crate) mod proto;
pub(crate) mod seeds;

pub(crate) mod trained;
pub(crate) mod trainer;

#[cfg(test)]
mod tests;

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
        run::teacher::load(d, base_dir, &graph).map_err(|why| {
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
