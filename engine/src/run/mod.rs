//! A training run on a worker thread that speaks only through two
//! channels: events out, commands in. The run goes through its stages in
//! order — `setup` (data, network, run folder, resume), `train` (the steps
//! and each epoch's end), `finish` (test, compression, verdicts) — and
//! whatever ends it early, an error or a panic, is written to `run.yaml`
//! and sent as a `failed` event.

pub mod checkpoint;
mod commands;
mod compression;
mod early_stop;
mod error;
pub mod events;
mod finish;
pub mod histogram;
mod inference;
pub mod lock;
pub mod progress;
pub mod record;
pub(crate) mod sample;
mod setup;
pub mod tally;
pub(crate) mod teacher;
pub mod tfevents;
mod train;

use std::panic::AssertUnwindSafe;

use crate::panic;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use dlwb_dsl::Graph;

pub use crate::compress::{Figures, Report};
pub use checkpoint::Checkpoint;
pub use error::Error;
pub use events::{Command, Event, ExpectResult, FailureKind, Metrics, Status};
pub use finish::judge;
use record::RunRecord;

#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The `.net` file and its text as checked.
    pub file: PathBuf,
    pub source: String,
    pub graph: Graph,
    /// Where run folders go (`runs/` beside the working directory by default).
    pub runs_dir: PathBuf,
    /// Batches per epoch at most (quick and CI runs).
    pub limit_batches: Option<usize>,
    pub threads: Option<usize>,
    /// Settings changed on the command line, as given.
    pub overrides: Vec<String>,
    /// Continue this run folder.
    pub resume: Option<PathBuf>,
    /// Start from these weights wherever names and shapes match.
    pub warm_start: Option<Arc<Checkpoint>>,
    /// About how many step events an epoch sends.
    pub step_events_per_epoch: usize,
    /// Stop (as on request, with a checkpoint) once this many steps have
    /// been taken since the run began: time-boxed runs, and tests that
    /// stop a run at a chosen step.
    pub stop_after_steps: Option<usize>,
    /// The run this one was started from by an edit (the dashboard's
    /// reload), kept in run.yaml.
    pub parent: Option<record::Parent>,
    /// The Slurm job it runs in, kept in run.yaml.
    pub slurm: Option<record::SlurmTask>,
    /// Where it trains, as asked (`--device`); resolved when it starts.
    pub device: crate::device::Choice,
}

impl RunConfig {
    pub fn new(file: PathBuf, source: String, graph: Graph) -> Self {
        RunConfig {
            file,
            source,
            graph,
            runs_dir: PathBuf::from("runs"),
            limit_batches: None,
            threads: None,
            overrides: Vec::new(),
            resume: None,
            warm_start: None,
            step_events_per_epoch: 50,
            stop_after_steps: None,
            parent: None,
            slurm: None,
            device: crate::device::Choice::Cpu,
        }
    }
}

/// The front end's end of a run.
pub struct RunHandle {
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    ended: Arc<AtomicBool>,
}

impl RunHandle {
    /// Sends a command; a finished run ignores it.
    pub fn send(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    pub fn commands(&self) -> Sender<Command> {
        self.commands.clone()
    }

    /// Set when the worker has ended (its last checkpoint written), for a
    /// watchdog that cannot own the handle.
    pub fn ended(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.ended)
    }

    /// Waits for the worker to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// Sets its flag however the worker ends.
struct Ended(Arc<AtomicBool>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts a run on its own thread.
pub fn start(cfg: RunConfig) -> (RunHandle, Receiver<Event>) {
    let (etx, erx) = channel();
    let (ctx, crx) = channel();
    let ended = Arc::new(AtomicBool::new(false));
    let ended_in_worker = Arc::clone(&ended);
    let thread = std::thread::Builder::new()
        .name("dlwb-train".into())
        .spawn(move || {
            let _ended = Ended(ended_in_worker);
            panic::mark_run_thread();
            panic::clear();
            let mut w = Worker {
                cfg: &cfg,
                events: etx,
                commands: crx,
                run_dir: None,
                record: None,
            };
            let failure = match std::panic::catch_unwind(AssertUnwindSafe(|| w.run())) {
                Ok(Ok(())) => None,
                Ok(Err(f)) => Some(f),
                Err(payload) => Some(w.crashed(&panic::describe(payload.as_ref()))),
            };
            if let Some(f) = failure {
                w.failed(f);
            }
        })
        .expect("spawning the training thread");
    (
        RunHandle {
            commands: ctx,
            thread: Some(thread),
            ended,
        },
        erx,
    )
}

struct Worker<'a> {
    cfg: &'a RunConfig,
    events: Sender<Event>,
    commands: Receiver<Command>,
    run_dir: Option<PathBuf>,
    /// `run.yaml` as last written, so that a failure can say so there.
    record: Option<RunRecord>,
}

impl Worker<'_> {
    fn send(&self, e: Event) {
        // A front end that went away does not stop the run from saving.
        let _ = self.events.send(e);
    }

    fn run(&mut self) -> Result<(), Error> {
        use crate::device::{self, Device};
        // Refused before anything is allocated or a folder is made.
        let on = device::resolve(self.cfg.device).map_err(Error::Refused)?;
        device::check_fits(on, &self.cfg.graph).map_err(Error::Refused)?;
        // The one place a backend is chosen: every stage is generic over it.
        match on {
            Device::Cpu => self.run_on(Arc::new(crate::backend::cpu::Cpu::default())),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => self.run_on(Arc::new(crate::backend::cuda::Cuda::open(n)?)),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(Error::Refused("this dlwb was built without CUDA".into())),
        }
    }

    fn run_on<B: crate::backend::Backend>(&mut self, be: Arc<B>) -> Result<(), Error> {
        let mut run = self.setup(be)?;
        let status = self.train(&mut run)?;
        self.finish(&mut run, status)
    }

    fn crashed(&self, what: &str) -> Error {
        let kept = match &self.run_dir {
            Some(d) => format!(
                "; the last checkpoint is kept in {}",
                d.join(record::CHECKPOINT).display()
            ),
            None => String::new(),
        };
        Error::Crashed(format!(
            "the training thread crashed: {what}{kept} (this is a bug in dlwb: please report it)"
        ))
    }

    /// Records the failure in `run.yaml` where the disk allows, and tells
    /// the front ends.
    fn failed(&mut self, f: Error) {
        let (kind, message) = (f.kind(), f.to_string());
        if let (Some(dir), Some(rec)) = (&self.run_dir, &mut self.record) {
            rec.status = kind.status();
            rec.error = Some(message.clone());
            rec.finished = Some(record::now());
            let _ = record::write_record(dir, rec);
        }
        self.send(Event::Failed {
            kind,
            error: message,
            run_dir: self.run_dir.clone(),
        });
    }
}
