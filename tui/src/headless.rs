//! `dlwb --headless FILE`: trains with no screen. On a terminal a progress
//! bar; otherwise (CI) one plain line per epoch; with `--json` every event
//! as a JSON line. Ends with the final metrics and each `expect` verdict,
//! and an exit code that says how it went.

use std::io::{IsTerminal, Write};
use std::path::Path;

use dlwb_engine::run::{self, Command, Event, ExpectResult, Metrics, Status};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::RunArgs;
use crate::format::si;
use crate::{exit, load, start};

/// Writes a line to stderr, ignoring a closed stream: a run whose reader
/// went away (`2>&1 | head`) trains on and keeps its run folder, where
/// `eprintln!` would panic and leave it marked `running`.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Checks the device a planned run asks for before any work: exit 2
/// naming what is missing, before a run folder is made.
pub fn check_device(planned: &start::Planned, json: bool) -> Result<(), u8> {
    dlwb_engine::device::resolve(planned.cfg.device)
        .map(|_| ())
        .map_err(|why| {
            load::error(json, "", &why);
            exit::INVALID
        })
}

pub fn run(args: &RunArgs) -> u8 {
    let planned = match start::plan(args, args.json) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = check_device(&planned, args.json) {
        return code;
    }
    let cfg = planned.cfg;
    let (handle, events) = run::start(cfg);
    let commands = handle.commands();
    // Ctrl-C and SIGTERM stop the run after the current step, which saves
    // a checkpoint first; a second signal is left to the default action.
    let _ = ctrlc::set_handler(move || {
        let _ = commands.send(Command::Interrupt);
    });
    let mut printer = Printer::new(if args.json {
        Mode::Json
    } else if std::io::stderr().is_terminal() {
        Mode::Bar(None)
    } else {
        Mode::Lines
    });
    // A run that ends without saying how (it cannot) counts as failed.
    let mut code = exit::FAILED;
    for event in events {
        if let Some(c) = printer.show(&event) {
            code = c;
        }
    }
    handle.join();
    code
}

enum Mode {
    Json,
    Bar(Option<ProgressBar>),
    Lines,
}

/// Shows a run's events the way the mode asks.
struct Printer {
    mode: Mode,
    epochs: usize,
}

impl Printer {
    fn new(mode: Mode) -> Self {
        Printer { mode, epochs: 0 }
    }

    fn text(&self) -> bool {
        !matches!(self.mode, Mode::Json)
    }

    /// Shows one event; the exit code once the run has ended.
    fn show(&mut self, event: &Event) -> Option<u8> {
        if let Mode::Json = self.mode {
            // A reader that went away (`| head`) must not stop the run.
            let json = serde_json::to_string(event).expect("events serialize");
            let _ = writeln!(std::io::stdout(), "{json}");
        }
        match event {
            Event::Started { epochs, .. } => {
                self.epochs = *epochs;
                if self.text() {
                    started(event);
                }
            }
            Event::Step {
                epoch,
                step,
                loss,
                accuracy,
                samples_per_s,
                ..
            } => self.step(*epoch, *step, *loss, *accuracy, *samples_per_s),
            Event::Epoch {
                epoch,
                metrics,
                seconds,
                ..
            } => self.epoch(*epoch, metrics, *seconds),
            Event::Sample { text, .. } if self.text() => say!("sample: {text}"),
            Event::Compression { reports } if self.text() => {
                say!("\ncompression");
                for line in crate::dashboard::view::compression_lines(reports) {
                    say!("  {line}");
                }
            }
            Event::Log { message } if self.text() => say!("{message}"),
            Event::Finished {
                status,
                metrics,
                expect,
                run_dir,
            } => {
                self.clear_bar();
                if self.text() {
                    finished(*status, metrics, expect, run_dir);
                }
                return Some(exit::of_finish(*status, expect));
            }
            Event::Failed {
                kind,
                error,
                run_dir,
            } => {
                self.clear_bar();
                if self.text() {
                    say!("error: {error}");
                    if let Some(d) = run_dir {
                        say!("run folder: {}", d.display());
                    }
                }
                return Some(exit::of_failure(*kind));
            }
            _ => {}
        }
        None
    }

    fn step(&mut self, epoch: usize, step: usize, loss: f64, acc: Option<f64>, rate: f64) {
        let epochs = self.epochs;
        if let Mode::Bar(bar) = &mut self.mode {
            let b = bar.get_or_insert_with(|| epoch_bar(epoch, epochs));
            b.set_position(step as u64 + 1);
            let acc = acc.map_or(String::new(), |a| format!(" acc {:.1}%", 100.0 * a));
            b.set_message(format!("loss {loss:.4}{acc} {}/s", si(rate)));
        }
    }

    fn epoch(&mut self, epoch: usize, metrics: &Metrics, seconds: f64) {
        let line = format!(
            "epoch {}/{}  {}  ({seconds:.1} s)",
            epoch + 1,
            self.epochs,
            metrics
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect::<Vec<_>>()
                .join("  ")
        );
        if let Mode::Bar(bar) = &mut self.mode {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
        if self.text() {
            say!("{line}");
        }
    }

    fn clear_bar(&self) {
        if let Mode::Bar(Some(b)) = &self.mode {
            b.finish_and_clear();
        }
    }
}

fn started(event: &Event) {
    let Event::Started {
        experiment,
        run_dir,
        epochs,
        params,
        threads,
        device,
        warm_kept,
        warm_reinitialized,
        resumed_at,
        ..
    } = event
    else {
        return;
    };
    say!(
        "training {experiment}: {params} parameters, {epochs} epochs, on {device} with {threads} threads; run folder {}",
        run_dir.display()
    );
    if let Some((done, steps)) = resumed_at {
        say!("resumed after {done} epochs and {steps} steps of the next");
    }
    if warm_kept + warm_reinitialized > 0 {
        say!(
            "started from a checkpoint: {warm_kept} parameters kept, {warm_reinitialized} initialized anew"
        );
    }
}

fn finished(status: Status, metrics: &Metrics, expect: &[ExpectResult], run_dir: &Path) {
    say!("\nfinal metrics ({status:?})");
    for (k, v) in metrics {
        say!("  {k:<24} {v:.4}");
    }
    if !expect.is_empty() {
        say!("expect");
        for e in expect {
            let value = e.value.map_or("not measured".into(), |v| format!("{v:.4}"));
            let verdict = if e.met { "met" } else { "MISSED" };
            say!("  {:<32} {value:>12}  {verdict}", e.expect);
        }
    }
    say!("run folder: {}", run_dir.display());
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
