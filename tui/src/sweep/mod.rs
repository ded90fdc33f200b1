//! `dlwb sweep FILE --grid KEY=V1,V2 [--seeds K] [--parallel N]`: every
//! configuration of the grid (each with K seeds) checked first, then
//! trained, N at a time with the cores divided between them, into
//! `DIR/<experiment>/sweep-<UTC timestamp>/` with its `sweep.yaml`; at the
//! end a table ranked by the monitored metric.

mod halving;
mod live;
mod record;
mod slurm;
mod task;
mod trials;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use dlwb_engine::run::{self, Command, Event, RunHandle, Status};

use crate::cli::SweepArgs;
use crate::load::{self, Loaded};
use crate::run_dir::OpenRun;
use crate::{exit, out};
use record::{SweepRecord, Trial, TrialStatus};
use trials::{sets, Axes};

pub fn run(args: &SweepArgs) -> u8 {
    if let Some(n) = args.trial {
        return task::run(args, n);
    }
    if args.slurm.enabled {
        if let Err(why) = slurm::client() {
            load::error(args.json, "", &why);
            return exit::INVALID;
        }
    }
    if let Some(dir) = &args.resume {
        return resume(args, dir);
    }
    let Some(file) = &args.file else {
        load::error(
            args.json,
            "",
            "name the .net file to sweep, or --resume SWEEP_DIR",
        );
        return exit::INVALID;
    };
    let axes = match Axes::parse(&args.grid, args.random, &args.range, args.seeds) {
        Ok(a) => a,
        Err(why) => {
            load::error(args.json, "", &why);
            return exit::INVALID;
        }
    };
    let base = match load::load(file, &[], args.json) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let settings = axes.trials(base.graph.experiment.train.seed);
    let checked = match check(args, file, &base, &settings) {
        Ok(jobs) => jobs,
        Err(code) => return code,
    };
    let (monitor, minimize) = monitor(&base);
    let exp = &base.graph.experiment;
    let name = if exp.name.is_empty() {
        "sweep".to_string()
    } else {
        exp.name.clone()
    };
    let dir = args
        .runs_dir
        .join(&name)
        .join(format!("sweep-{}", run::record::timestamp()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        load::error(
            args.json,
            &dir.display().to_string(),
            &format!("cannot create {}: {e}", dir.display()),
        );
        return exit::FAILED;
    }
    let mut record = SweepRecord {
        experiment: name,
        file: file.display().to_string(),
        axes,
        monitor,
        minimize,
        epochs: base.graph.experiment.train.epochs,
        trials: settings
            .into_iter()
            .enumerate()
            .map(Trial::pending)
            .collect(),
        best: None,
        slurm_job: None,
    };
    if args.slurm.enabled {
        return slurm::launch(args, &dir, &mut record);
    }
    finish(args, &dir, &mut record, checked)
}

/// Every trial checked before any starts (with halving, at the first
/// rung's epochs).
fn check(
    args: &SweepArgs,
    file: &Path,
    base: &Loaded,
    settings: &[trials::Settings],
) -> Result<Vec<Job>, u8> {
    let first_rung = args.halving.map(|eta| {
        let epochs = base.graph.experiment.train.epochs;
        let first = halving::rungs(epochs, settings.len(), eta)[0];
        format!("train.epochs={first}")
    });
    let mut jobs = Vec::new();
    for (trial, s) in settings.iter().enumerate() {
        let mut sets = sets(s);
        sets.extend(first_rung.clone());
        let loaded = load::load(file, &sets, args.json)?;
        let device = crate::start::device_choice(None, &loaded.graph);
        if let Err(why) = dlwb_engine::device::resolve(device) {
            load::error(args.json, &file.display().to_string(), &why);
            return Err(crate::exit::INVALID);
        }
        jobs.push(Job {
            trial,
            loaded,
            resume: None,
        });
    }
    Ok(jobs)
}

/// Runs `jobs` of the sweep in `dir`, then shows the table.
fn finish(args: &SweepArgs, dir: &Path, record: &mut SweepRecord, jobs: Vec<Job>) -> u8 {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let live = live::Live::start(record, args.json);
    let code = Sweep {
        args,
        dir,
        record,
        task: false,
        live,
    }
    .go(jobs, &stop);
    if !args.json {
        eprintln!();
        for line in record.table() {
            out::line(line);
        }
        eprintln!("sweep folder: {}", dir.display());
    }
    code
}

/// `--resume SWEEP_DIR`: the trials not completed, each from its own
/// checkpoint where it has one, else from the start.
fn resume(args: &SweepArgs, dir: &Path) -> u8 {
    let mut record = match SweepRecord::read(dir) {
        Ok(r) => r,
        Err(why) => {
            load::error(args.json, &dir.display().to_string(), &why);
            return exit::INVALID;
        }
    };
    let file = PathBuf::from(&record.file);
    let mut jobs = Vec::new();
    for t in record
        .trials
        .iter()
        .filter(|t| t.status != TrialStatus::Completed)
    {
        match job(args, &file, t) {
            Ok(j) => jobs.push(j),
            Err(code) => return code,
        }
    }
    finish(args, dir, &mut record, jobs)
}

/// What is left of trial `t`: from its own checkpoint where it has one,
/// else from the start.
fn job(args: &SweepArgs, file: &Path, t: &Trial) -> Result<Job, u8> {
    let started = t
        .run_dir
        .as_ref()
        .filter(|d| d.join(run::record::CHECKPOINT).is_file());
    Ok(match started {
        Some(run_dir) => Job {
            trial: t.trial,
            loaded: OpenRun::open(run_dir, args.json)?.loaded,
            resume: Some(run_dir.clone()),
        },
        None => Job {
            trial: t.trial,
            loaded: load::load(file, &sets(&t.settings), args.json)?,
            resume: None,
        },
    })
}

/// 130 when cut short, else 3 if one of `trials` failed, else 0.
fn exit_code<'a>(trials: impl IntoIterator<Item = &'a Trial>, interrupted: bool) -> u8 {
    let statuses: Vec<TrialStatus> = trials.into_iter().map(|t| t.status).collect();
    if interrupted || statuses.contains(&TrialStatus::Interrupted) {
        exit::INTERRUPTED
    } else if statuses.contains(&TrialStatus::Failed) {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// The metric trials are ranked by: early stopping's, else validation
/// loss where there is a validation split, else training loss.
fn monitor(base: &Loaded) -> (String, bool) {
    let exp = &base.graph.experiment;
    if let Some(es) = &exp.train.early_stop {
        return (es.monitor.clone(), es.minimize());
    }
    let name = if exp.data.validation.is_some() {
        "val.loss"
    } else {
        "train.loss"
    };
    (name.to_string(), true)
}

/// The metric the sweep in `dir` ranks its trials by.
pub fn monitor_of(dir: &Path) -> Result<String, String> {
    SweepRecord::read(dir).map(|r| r.monitor)
}

struct Sweep<'a> {
    args: &'a SweepArgs,
    dir: &'a Path,
    record: &'a mut SweepRecord,
    /// One trial of a sweep whose other trials run elsewhere (a Slurm
    /// task): it writes its own trial.yaml, never sweep.yaml.
    task: bool,
    /// The screen, on a terminal; else progress lines on stderr.
    live: Option<live::Live>,
}

/// A trial to run: checked, and where it goes on from if it started.
struct Job {
    trial: usize,
    loaded: Loaded,
    resume: Option<PathBuf>,
}

/// A trial under way.
struct Running {
    trial: usize,
    handle: RunHandle,
    events: Receiver<Event>,
}

impl Sweep<'_> {
    /// Runs the trials, `--parallel` at a time; the exit code.
    fn go(&mut self, jobs: Vec<Job>, stop: &AtomicBool) -> u8 {
        let mine: Vec<usize> = jobs.iter().map(|j| j.trial).collect();
        let mut interrupted = false;
        match self.args.halving {
            Some(eta) if !jobs.is_empty() => {
                let mut jobs = jobs;
                let rungs = halving::rungs(self.record.epochs, jobs.len(), eta);
                for rung in 0..rungs.len() {
                    let trials: Vec<usize> = jobs.iter().map(|j| j.trial).collect();
                    interrupted = self.batch(jobs, stop);
                    if interrupted || rung + 1 == rungs.len() {
                        break;
                    }
                    let keep = halving::promoted(self.record, &trials, eta);
                    match self.promote(&trials, &keep, rungs[rung + 1]) {
                        Ok(next) => jobs = next,
                        Err(code) => return code,
                    }
                }
            }
            _ => interrupted = self.batch(jobs, stop),
        }
        self.record.update_best();
        self.save(None);
        // A task judges only its own trials.
        let judged = self
            .record
            .trials
            .iter()
            .filter(|t| !self.task || mine.contains(&t.trial));
        exit_code(judged, interrupted)
    }

    /// Successive halving's next rung: `keep` go on from their own
    /// checkpoints up to `epochs`; the rest of `trials` stop here.
    fn promote(&mut self, trials: &[usize], keep: &[usize], epochs: usize) -> Result<Vec<Job>, u8> {
        let mut jobs = Vec::new();
        for &trial in trials {
            let t = &mut self.record.trials[trial];
            if !keep.contains(&trial) {
                if t.status == TrialStatus::Completed {
                    t.status = TrialStatus::Stopped;
                }
                continue;
            }
            let run_dir = t
                .run_dir
                .clone()
                .expect("a completed trial has its run folder");
            let sets = [format!("train.epochs={epochs}")];
            let open = OpenRun::open_with(&run_dir, &sets, self.args.json)?;
            t.rung += 1;
            jobs.push(Job {
                trial,
                loaded: open.loaded,
                resume: Some(run_dir),
            });
        }
        Ok(jobs)
    }

    /// Runs `jobs`, `--parallel` at a time; true when Ctrl-C cut them short.
    fn batch(&mut self, jobs: Vec<Job>, stop: &AtomicBool) -> bool {
        let parallel = self.args.parallel.max(1);
        let cores = slurm::cpus()
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let threads = (cores / parallel).max(1);
        let mut waiting: std::collections::VecDeque<Job> = jobs.into();
        let mut running: Vec<Running> = Vec::new();
        let mut interrupted = false;
        while !waiting.is_empty() || !running.is_empty() {
            if stop.load(Ordering::SeqCst) && !interrupted {
                interrupted = true;
                waiting.clear();
                for r in &running {
                    r.handle.send(Command::Interrupt);
                }
            }
            while running.len() < parallel {
                let Some(job) = waiting.pop_front() else {
                    break;
                };
                running.push(self.start(job, threads));
            }
            let before = running.len();
            running.retain_mut(|r| !self.poll(r));
            let idle = if running.len() == before {
                Duration::from_millis(20)
            } else {
                Duration::ZERO
            };
            match &mut self.live {
                Some(live) => live.tick(idle, stop),
                None => std::thread::sleep(idle),
            }
        }
        interrupted
    }

    fn start(&mut self, job: Job, threads: usize) -> Running {
        let trial = job.trial;
        let file = PathBuf::from(&self.record.file);
        let says = self.says();
        let t = &mut self.record.trials[trial];
        // Where the file's `train { device }` says (resolved by each trial).
        let device = crate::start::device_choice(None, &job.loaded.graph);
        let mut cfg = run::RunConfig::new(file, job.loaded.source, job.loaded.graph);
        cfg.device = device;
        cfg.resume = job.resume;
        cfg.runs_dir = record::trial_dir(self.dir, trial);
        cfg.threads = Some(threads);
        cfg.limit_batches = self.args.limit_batches;
        cfg.overrides = sets(&t.settings);
        cfg.slurm = crate::system::slurm_task();
        t.status = TrialStatus::Running;
        if says {
            eprintln!("trial {trial} started: {}", sets(&t.settings).join(" "));
        }
        let (handle, events) = run::start(cfg);
        Running {
            trial,
            handle,
            events,
        }
    }

    /// Takes the trial's new events; true once it has ended.
    fn poll(&mut self, r: &mut Running) -> bool {
        loop {
            let event = match r.events.try_recv() {
                Ok(e) => e,
                Err(TryRecvError::Empty) => return false,
                // The worker ended without saying how: a failure.
                Err(TryRecvError::Disconnected) => {
                    self.ended(r.trial, TrialStatus::Failed);
                    return true;
                }
            };
            if self.args.json {
                let mut v = serde_json::to_value(&event).unwrap_or_default();
                v["trial"] = r.trial.into();
                out::line(v);
            }
            if let Some(live) = &mut self.live {
                live.on_event(r.trial, &event);
            }
            if let Some(status) = self.outcome(r.trial, event) {
                self.ended(r.trial, status);
                return true;
            }
        }
    }

    /// A trial's end, from its last event.
    fn outcome(&mut self, trial: usize, event: Event) -> Option<TrialStatus> {
        let t = &mut self.record.trials[trial];
        match event {
            Event::Started { run_dir, .. } => {
                t.run_dir = Some(run_dir);
                self.save(Some(trial));
                None
            }
            Event::Finished {
                status,
                metrics,
                expect,
                run_dir,
            } => {
                t.metrics = metrics;
                t.expect = expect;
                t.run_dir = Some(run_dir);
                Some(match status {
                    Status::Completed => TrialStatus::Completed,
                    _ => TrialStatus::Interrupted,
                })
            }
            Event::Failed { error, run_dir, .. } => {
                t.error = Some(error);
                t.run_dir = run_dir.or(t.run_dir.take());
                Some(TrialStatus::Failed)
            }
            _ => None,
        }
    }

    /// Whether progress goes to stderr as lines.
    fn says(&self) -> bool {
        !self.args.json && self.live.is_none()
    }

    fn ended(&mut self, trial: usize, status: TrialStatus) {
        let says = self.says();
        let t = &mut self.record.trials[trial];
        t.status = status;
        if says {
            let m = t
                .metrics
                .get(&self.record.monitor)
                .map_or(String::new(), |v| {
                    format!(" {} {v:.4}", self.record.monitor)
                });
            eprintln!("trial {trial} {}{m}", status.name());
        }
        self.record.update_best();
        self.save(Some(trial));
    }

    /// Writes `trial`'s own record, and sweep.yaml unless other processes
    /// run this sweep's trials.
    fn save(&self, trial: Option<usize>) {
        if let Some(n) = trial {
            if let Err(e) = self.record.write_trial(self.dir, n) {
                let path = record::trial_dir(self.dir, n).join("trial.yaml");
                eprintln!("warning: cannot write {}: {e}", path.display());
            }
        }
        if self.task {
            return;
        }
        if let Err(e) = self.record.write(self.dir) {
            eprintln!(
                "warning: cannot write {}: {e}",
                self.dir.join("sweep.yaml").display()
            );
        }
    }
}
