//! `dlwb`: the command line. Parses arguments, then hands off to the
//! command's module; the only place that talks to the terminal.

mod check_cmd;
mod cli;
mod system;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        Some(cli::Command::Check(args)) => check_cmd::run(&args),
        None => {
            eprintln!("dlwb: training is not available in this build yet; try `dlwb check FILE`");
            2
        }
    };
    ExitCode::from(code)
}
