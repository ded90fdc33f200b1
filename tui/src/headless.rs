//! `dlwb --headless FILE`: trains with no screen. On a terminal a progress
//! bar; otherwise (CI) one plain line per epoch; with `--json` every event
//! as a JSON line. Ends with the final metrics and each `expect` verdict,
//! and an exit code that says how it went.

use std::io::IsTerminal;
use std::path::Path;

use dlwb_engine::run::{self, Command, Event, FailureKind, RunConfig, Status};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::RunArgs;
use crate::format::si;
use crate::load;

pub const EXIT_EXPECT_MISSED: u8 = 1;
pub const EXIT_FAILED: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

enum Mode {
    Json,
    Bar(Option<ProgressBar>),
    Lines,
}

/// Checks `--device` before any work.
pub fn check_device(device: &str) -> Result<(), u8> {
    dlwb_engine::device::select(device)
        .map(|_| ())
        .map_err(|why| {
            eprintln!("error: {why}");
            load::EXIT_INVALID
        })
}

pub fn run(args: &RunArgs, file: &Path) -> u8 {
    if let Err(code) = check_device(&args.device) {
        return code;
    }
    let loaded = match load::load(file, &args.all_sets(), args.json) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut cfg = RunConfig::new(file.to_path_buf(), loaded.source, loaded.graph);
    cfg.runs_dir = args.runs_dir.clone();
    cfg.limit_batches = args.limit_batches;
    cfg.threads = args.threads;
    cfg.overrides = args.all_sets();
    cfg.resume = args.resume.clone();
    if let Some(path) = &args.init {
        match dlwb_engine::run::Checkpoint::load(path) {
            Ok(ck) => cfg.warm_start = Some(std::sync::Arc::new(ck)),
            Err(e) => {
                eprintln!("error: {e}");
                return load::EXIT_INVALID;
            }
        }
    }
    let (handle, events) = run::start(cfg);
    let commands = handle.commands();
    // Ctrl-C and SIGTERM stop the run after the current step, which saves
    // a checkpoint first; a second signal is left to the default action.
    let _ = ctrlc::set_handler(move || {
        let _ = commands.send(Command::Interrupt);
    });

    let mut mode = if args.json {
        Mode::Json
    } else if std::io::stderr().is_terminal() {
        Mode::Bar(None)
    } else {
        Mode::Lines
    };
    let mut epochs = 0;
    let mut code = EXIT_FAILED;
    for event in events {
        if let Mode::Json = mode {
            println!(
                "{}",
                serde_json::to_string(&event).expect("events serialize")
            );
        }
        match &event {
            Event::Started {
                experiment,
                run_dir,
                epochs: n,
                params,
                threads,
                warm_kept,
                warm_reinitialized,
                ..
            } => {
                epochs = *n;
                if !matches!(mode, Mode::Json) {
                    eprintln!(
                        "training {experiment}: {params} parameters, {n} epochs, {threads} threads; run folder {}",
                        run_dir.display()
                    );
                    if *warm_kept + *warm_reinitialized > 0 {
                        eprintln!(
                            "started from a checkpoint: {warm_kept} parameters kept, {warm_reinitialized} initialized anew"
                        );
                    }
                }
            }
            Event::Step {
                epoch,
                step,
                loss,
                accuracy,
                samples_per_s,
                ..
            } => {
                if let Mode::Bar(bar) = &mut mode {
                    let b = bar.get_or_insert_with(|| epoch_bar(*epoch, epochs));
                    b.set_position(*step as u64 + 1);
                    let acc = accuracy.map_or(String::new(), |a| format!(" acc {:.1}%", 100.0 * a));
                    b.set_message(format!("loss {loss:.4}{acc} {}/s", si(*samples_per_s)));
                }
            }
            Event::Epoch {
                epoch,
                metrics,
                seconds,
                ..
            } => {
                let line = format!(
                    "epoch {}/{epochs}  {}  ({seconds:.1} s)",
                    epoch + 1,
                    metrics
                        .iter()
                        .map(|(k, v)| format!("{k} {v:.4}"))
                        .collect::<Vec<_>>()
                        .join("  ")
                );
                match &mut mode {
                    Mode::Bar(bar) => {
                        if let Some(b) = bar.take() {
                            b.finish_and_clear();
                        }
                        eprintln!("{line}");
                    }
                    Mode::Lines => eprintln!("{line}"),
                    Mode::Json => {}
                }
            }
            Event::Sample { text, .. } if !matches!(mode, Mode::Json) => {
                eprintln!("sample: {text}")
            }
            Event::Compression { reports } if !matches!(mode, Mode::Json) => {
                eprintln!("\ncompression");
                for line in crate::dashboard::view::compression_lines(reports) {
                    eprintln!("  {line}");
                }
            }
            Event::Log { message } if !matches!(mode, Mode::Json) => eprintln!("{message}"),
            Event::Finished {
                status,
                metrics,
                expect,
                run_dir,
            } => {
                if let Mode::Bar(Some(b)) = &mode {
                    b.finish_and_clear();
                }
                let missed = expect.iter().any(|e| !e.met);
                code = match status {
                    Status::Interrupted => EXIT_INTERRUPTED,
                    _ if missed => EXIT_EXPECT_MISSED,
                    _ => 0,
                };
                if !matches!(mode, Mode::Json) {
                    eprintln!("\nfinal metrics ({status:?})");
                    for (k, v) in metrics {
                        eprintln!("  {k:<24} {v:.4}");
                    }
                    if !expect.is_empty() {
                        eprintln!("expect");
                        for e in expect {
                            let value =
                                e.value.map_or("not measured".into(), |v| format!("{v:.4}"));
                            let verdict = if e.met { "met" } else { "MISSED" };
                            eprintln!("  {:<32} {value:>12}  {verdict}", e.expect);
                        }
                    }
                    eprintln!("run folder: {}", run_dir.display());
                }
            }
            Event::Failed {
                kind,
                error,
                run_dir,
            } => {
                if let Mode::Bar(Some(b)) = &mode {
                    b.finish_and_clear();
                }
                code = match kind {
                    FailureKind::InvalidData => load::EXIT_INVALID,
                    FailureKind::Diverged | FailureKind::Io => EXIT_FAILED,
                };
                if !matches!(mode, Mode::Json) {
                    eprintln!("error: {error}");
                    if let Some(d) = run_dir {
                        eprintln!("run folder: {}", d.display());
                    }
                }
            }
            _ => {}
        }
    }
    handle.join();
    code
}

fn epoch_bar(epoch: usize, epochs: usize) -> ProgressBar {
    let b = ProgressBar::new(0);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "epoch {}/{epochs} [{{bar:30}}] {{pos}}/{{len}} {{msg}} eta {{eta}}",
            epoch + 1
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    b
}
