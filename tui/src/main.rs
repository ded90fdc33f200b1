//! `dlwb`: parses arguments and hands off to the command's module.

use std::io::IsTerminal;

/// See tui/Cargo.toml: per-step buffers must not be mapped and unmapped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::Parser;
use dlwb::{
    bench_cmd, check_cmd, cli, dashboard, devices_cmd, eval_cmd, exit, export_cmd, headless, load,
    predict_cmd, report, runs_cmd, sweep, viewer,
};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // With --json a mistake in the arguments is a JSON line too;
        // --help and --version print as usual.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            let message = e.kind().to_string();
            let detail = e.to_string();
            let first = detail.lines().next().unwrap_or(&message);
            load::error(true, "", first.trim_start_matches("error: "));
            return ExitCode::from(exit::INVALID);
        }
        Err(e) => e.exit(),
    };
    let code = match &cli.command {
        Some(cli::Command::Check(args)) => check_cmd::run(args),
        Some(cli::Command::Bench(args)) => bench_cmd::run(args),
        Some(cli::Command::Devices(args)) => devices_cmd::run(args),
        Some(cli::Command::Eval(args)) => eval_cmd::run(args),
        Some(cli::Command::Export(args)) => export_cmd::run(args),
        Some(cli::Command::Predict(args)) => predict_cmd::run(args),
        Some(cli::Command::Report(args)) => report::run(args),
        Some(cli::Command::Runs(args)) => runs_cmd::run(args),
        Some(cli::Command::Sweep(args)) => sweep::run(args),
        Some(cli::Command::View(args)) => viewer::run(args),
        // The dashboard needs a terminal on both ends; otherwise (CI,
        // pipes) the same run goes headless.
        None if !cli.run.headless
            && !cli.run.json
            && (cli.run.file.is_some() || cli.run.resume.is_some())
            && std::io::stdout().is_terminal()
            && std::io::stdin().is_terminal() =>
        {
            dashboard::run(&cli.run)
        }
        None => headless::run(&cli.run),
    };
    ExitCode::from(code)
}
