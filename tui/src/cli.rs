//! The command-line interface, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A deep-learning workbench for the terminal: describe an experiment in a
/// `.net` file, then check it, train it live, or run it headless in CI.
#[derive(Debug, Parser)]
#[command(name = "dlwb", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The experiment to train (opens the dashboard on a terminal).
    pub file: Option<PathBuf>,

    /// Train without a screen: plain progress, a run folder, and an exit
    /// code that says whether the file's `expect` goals were met.
    #[arg(long)]
    pub headless: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a file and print its model summary (exit 0 valid, 2 invalid).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The `.net` file to check.
    pub file: PathBuf,

    /// Print diagnostics (or the summary) as JSON.
    #[arg(long)]
    pub json: bool,
}
