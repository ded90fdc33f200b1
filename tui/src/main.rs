//! `dlwb`: the command line. Parses arguments, then hands off to the
//! command's module; the only crate that talks to the terminal.

mod bench_cmd;
mod check_cmd;
mod cli;
mod headless;
mod load;
mod system;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match &cli.command {
        Some(cli::Command::Check(args)) => check_cmd::run(args),
        Some(cli::Command::Bench(args)) => bench_cmd::run(args),
        None => match &cli.run.file {
            Some(file) => headless::run(&cli.run, file),
            None => {
                eprintln!("error: name a .net file to train, e.g. `dlwb examples/lstm.net`; see `dlwb --help`");
                load::EXIT_INVALID
            }
        },
    };
    ExitCode::from(code)
}
