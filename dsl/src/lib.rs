//! The `.net` experiment language.
//!
//! A file goes through three stages, each a distinct type so that a later
//! stage can rely on what an earlier one checked:
//!
//! 1. [`syntax::parse`]: text to a spanned syntax tree (pest grammar). The
//!    grammar is uniform — every statement is a word with arguments — so
//!    that unknown words reach the next stage, which can name the closest
//!    valid spelling.
//! 2. [`lower::lower`]: syntax to an [`Experiment`]: every key known, every
//!    value typed and in range, blocks and `repeat` expanded. Sizes that
//!    depend on the data (`classes`, `vocab`) stay symbolic.
//! 3. [`check::check`]: an experiment plus its data's [`DataFacts`] to a
//!    [`Graph`], where every node knows its shapes, parameters and FLOPs.
//!
//! Every stage reports all the mistakes it finds, not only the first. This
//! crate reads no files and knows nothing of tensors: data facts that need
//! the files come from the engine.

pub mod check;
pub mod diagnostic;
pub mod experiment;
pub mod facts;
pub mod graph;
pub mod layer;
pub mod lower;
pub mod metric;
pub mod ops;
pub mod overrides;
pub mod render;
pub mod summary;
pub mod syntax;
mod value;

pub use check::{check, CheckOptions};
pub use diagnostic::{Diagnostic, Severity, Span};
pub use experiment::Experiment;
pub use facts::Learned;
pub use graph::{DataFacts, Graph, Node, Op, Param, Shape, Target};

/// Parses and lowers a whole file: everything that can be known without
/// the data.
pub fn parse(source: &str) -> Result<Experiment, Vec<Diagnostic>> {
    let stmts = syntax::parse(source)?;
    lower::lower(&stmts)
}

/// Parses, then checks against the facts the file itself declares plus
/// those `learned` from the data files.
pub fn parse_and_check(
    source: &str,
    learned: Learned,
    opts: &CheckOptions,
) -> Result<Graph, Vec<Diagnostic>> {
    let exp = parse(source)?;
    let facts = exp
        .data
        .facts(learned)
        .map_err(|why| vec![Diagnostic::error(exp.data.span, why)])?;
    check(&exp, &facts, opts)
}
