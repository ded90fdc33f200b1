//! A training run on a worker thread that speaks only through two
//! channels: events out, commands in.

pub mod checkpoint;
mod compression;
pub mod events;
pub mod histogram;
pub mod record;
mod sample;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use dlwb_dsl::experiment::SourceKind;
use dlwb_dsl::{Graph, Target};

use crate::data::{self, loader::mix, Data, Which};
use crate::network::{compile, Network};
use crate::optim::{learning_rate, Optimizer};
pub use checkpoint::Checkpoint;
pub use events::{Command, Event, ExpectResult, FailureKind, Metrics, Status};
use record::{RunDir, RunRecord};

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
        }
    }
}

/// The front end's end of a run.
pub struct RunHandle {
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    ended: Arc<std::sync::atomic::AtomicBool>,
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
    pub fn ended(&self) -> Arc<std::sync::atomic::AtomicBool> {
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

/// Starts a run on its own thread.
pub fn start(cfg: RunConfig) -> (RunHandle, Receiver<Event>) {
    let (etx, erx) = channel();
    let (ctx, crx) = channel();
    let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ended_in_worker = Arc::clone(&ended);
    let thread = std::thread::Builder::new()
        .name("dlwb-train".into())
        .spawn(move || {
            // Set however the worker ends.
            struct Ended(Arc<std::sync::atomic::AtomicBool>);
            impl Drop for Ended {
                fn drop(&mut self) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _ended = Ended(ended_in_worker);
            let mut w = Worker {
                cfg: &cfg,
                events: etx,
                commands: crx,
                run_dir: None,
            };
            if let Err(f) = w.run() {
                let run_dir = w.run_dir.clone();
                let _ = w.events.send(Event::Failed {
                    kind: f.kind,
                    error: f.message,
                    run_dir,
                });
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

struct Failure {
    kind: FailureKind,
    message: String,
}

fn fail(kind: FailureKind, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

struct Worker<'a> {
    cfg: &'a RunConfig,
    events: Sender<Event>,
    commands: Receiver<Command>,
    run_dir: Option<PathBuf>,
}

/// What a batch pass over a split adds up to.
#[derive(Default)]
struct Tally {
    loss: f64,
    samples: usize,
    correct: usize,
    count: usize,
}

impl Tally {
    fn add(&mut self, s: &crate::network::BatchStats, batch: usize) {
        self.loss += s.loss as f64 * batch as f64;
        self.samples += batch;
        self.correct += s.correct;
        self.count += s.count;
    }

    fn into_metrics(self, split: &str, text: bool, out: &mut Metrics) {
        let loss = self.loss / self.samples.max(1) as f64;
        out.insert(format!("{split}.loss"), loss);
        if self.count > 0 {
            out.insert(
                format!("{split}.accuracy"),
                self.correct as f64 / self.count as f64,
            );
        }
        if text {
            out.insert(format!("{split}.bpc"), loss / std::f64::consts::LN_2);
        }
    }
}

enum Interrupted {
    No,
    Stopped(Status),
}

impl Worker<'_> {
    fn send(&self, e: Event) {
        // A front end that went away does not stop the run from saving.
        let _ = self.events.send(e);
    }

    fn run(&mut self) -> Result<(), Failure> {
        let cfg = self.cfg;
        let g = &cfg.graph;
        let exp = &g.experiment;
        let train = &exp.train;
        if let Some(t) = cfg.threads {
            crate::kernels::matmul::set_threads(t);
        }
        let threads = crate::kernels::matmul::threads();
        let base = cfg.file.parent().unwrap_or(Path::new("."));
        let data = data::load(&exp.data, base, train.seed)
            .map_err(|e| fail(FailureKind::InvalidData, format!("{e} ({})", e.hint())))?;
        check_data_fits(g, &data)?;

        let mut net = compile(g, train.seed);
        let mut opt = Optimizer::new(train);
        let (mut warm_kept, mut warm_reinit) = (0, 0);
        if let Some(ck) = &cfg.warm_start {
            for p in net.params.list.iter_mut() {
                match ck.get(&p.name) {
                    Some((shape, data)) if shape == p.shape.as_slice() => {
                        p.set(data);
                        warm_kept += 1;
                    }
                    _ => warm_reinit += 1,
                }
            }
        }
        let mut first_epoch = 0;
        let mut dir = match &cfg.resume {
            Some(path) => {
                let ck = Checkpoint::load(&path.join(record::CHECKPOINT))
                    .map_err(|e| fail(FailureKind::InvalidData, e.to_string()))?;
                for p in net.params.list.iter_mut() {
                    match ck.get(&p.name) {
                        Some((shape, data)) if shape == p.shape.as_slice() => p.set(data),
                        _ => {
                            return Err(fail(
                                FailureKind::InvalidData,
                                format!("{} does not match the checkpoint in {}: resume needs the same model", p.name, path.display()),
                            ))
                        }
                    }
                }
                let meta = |k: &str| {
                    ck.metadata
                        .get(k)
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0)
                };
                first_epoch = meta("epochs_done") as usize;
                opt.import(
                    &net.params,
                    |n| ck.get(n).map(|(_, d)| d.to_vec()),
                    meta("optimizer_steps") as i32,
                )
                .map_err(|e| fail(FailureKind::Io, e.to_string()))?;
                RunDir::reopen(path).map_err(|e| {
                    fail(
                        FailureKind::Io,
                        format!("cannot reopen run folder {}: {e}", path.display()),
                    )
                })?
            }
            None => {
                let name = if exp.name.is_empty() {
                    cfg.file
                        .file_stem()
                        .map_or("experiment".into(), |s| s.to_string_lossy().into_owned())
                } else {
                    exp.name.clone()
                };
                RunDir::create(&cfg.runs_dir, &name, &cfg.source).map_err(|e| {
                    fail(
                        FailureKind::Io,
                        format!(
                            "cannot create a run folder under {}: {e}",
                            cfg.runs_dir.display()
                        ),
                    )
                })?
            }
        };
        self.run_dir = Some(dir.path.clone());

        let plan = Arc::new(
            data.plan(Which::Train, train.batch, train.seed, cfg.limit_batches)
                .expect("a train split"),
        );
        let spe = plan.batches_per_epoch();
        let is_text = exp.data.source == SourceKind::Text;
        let mut record = RunRecord {
            experiment: exp.name.clone(),
            file: cfg.file.display().to_string(),
            dlwb_version: env!("CARGO_PKG_VERSION").into(),
            started: record::now(),
            finished: None,
            status: "running".into(),
            seed: train.seed,
            device: "cpu".into(),
            threads,
            params: net.params.count(),
            train: train.clone(),
            data: exp.data.clone(),
            overrides: cfg.overrides.clone(),
            vocab: data.vocab.as_ref().map(|v| v.chars().iter().collect()),
            classes: data.class_names.clone(),
            error: None,
            metrics: Metrics::new(),
            expect: Vec::new(),
            epochs_run: first_epoch,
            compression: Vec::new(),
        };
        let io =
            |e: std::io::Error| fail(FailureKind::Io, format!("cannot write the run folder: {e}"));
        dir.write_record(&record).map_err(io)?;
        if cfg.resume.is_none() {
            // A checkpoint exists from the start, so a run that diverges
            // early still leaves its last good weights.
            self.save(&mut net, &mut opt, &dir, 0)?;
        }
        self.send(Event::Started {
            experiment: record.experiment.clone(),
            run_dir: dir.path.clone(),
            device: "cpu".into(),
            threads,
            params: net.params.count(),
            epochs: train.epochs,
            steps_per_epoch: spe,
            train_samples: data.train.len(),
            layers: dlwb_dsl::summary::rows(g)
                .into_iter()
                .map(|r| events::LayerRow {
                    name: format!("{}{}", "  ".repeat(r.depth), r.name),
                    kind: r.kind,
                    output: r.output,
                    params: r.params,
                })
                .collect(),
            warm_kept,
            warm_reinitialized: warm_reinit,
        });

        let distill = exp.compress.as_ref().and_then(|c| c.distill.as_ref());
        if distill.is_some() && g.loss != dlwb_dsl::experiment::Loss::CrossEntropy {
            return Err(fail(
                FailureKind::InvalidData,
                "distillation needs a model trained with cross_entropy",
            ));
        }
        let teacher = match distill {
            Some(d) => Some((
                compression::teacher(d, &cfg.file, g)?,
                d.temperature,
                d.alpha,
            )),
            None => None,
        };
        let mut final_metrics = Metrics::new();
        let mut best: Option<(f64, Vec<Vec<f32>>)> = None;
        let mut since_best = 0;
        let mut status = Status::Completed;
        let every = (spe / cfg.step_events_per_epoch.max(1)).max(1);
        let started = Instant::now();
        let mut steps_done = 0usize;
        'epochs: for epoch in first_epoch..train.epochs {
            let epoch_start = Instant::now();
            let mut tally = Tally::default();
            let (mut window_start, mut window_samples) = (Instant::now(), 0usize);
            let mut lr = learning_rate(train, epoch as f64);
            for (step, batch) in plan.prefetch(epoch).enumerate() {
                let global = epoch * spe + step;
                lr = learning_rate(train, epoch as f64 + step as f64 / spe as f64);
                let teacher_logits = teacher.as_ref().map(|(t, ..)| {
                    t.forward::<dfdx::tensor::NoneTape>(&batch.inputs, batch.size, false, 0)
                        .output
                        .host()
                });
                let objective = match (&teacher, &teacher_logits) {
                    (Some((_, temperature, alpha)), Some(logits)) => {
                        crate::loss::Objective::Distill {
                            teacher: logits,
                            temperature: *temperature,
                            alpha: *alpha,
                        }
                    }
                    _ => crate::loss::Objective::Loss(g.loss),
                };
                let crate::network::TrainStep {
                    stats,
                    mut grads,
                    updates,
                } = net
                    .objective_and_grads(&batch, objective, mix(train.seed, global as u64))
                    .map_err(|e| fail(FailureKind::Io, e.to_string()))?;
                if !stats.loss.is_finite() {
                    return Err(self.diverged(
                        &dir,
                        &mut record,
                        epoch,
                        step,
                        format!("the loss became {}", stats.loss),
                    ));
                }
                let s = opt
                    .step(&mut net.params, &mut grads, lr)
                    .map_err(|e| fail(FailureKind::Io, e.to_string()))?;
                if !s.grad_norm.is_finite() {
                    return Err(self.diverged(
                        &dir,
                        &mut record,
                        epoch,
                        step,
                        format!("the gradient norm became {}", s.grad_norm),
                    ));
                }
                net.apply_updates(updates);
                tally.add(&stats, batch.size);
                steps_done += 1;
                window_samples += batch.size;
                let mut row = BTreeMap::from([("train.loss".to_string(), stats.loss as f64)]);
                if stats.count > 0 {
                    row.insert(
                        "train.accuracy".into(),
                        stats.correct as f64 / stats.count as f64,
                    );
                }
                dir.row("step", epoch, global, &row).map_err(io)?;
                if (step + 1) % every == 0 || step + 1 == spe {
                    let secs = window_start.elapsed().as_secs_f64().max(1e-9);
                    let per_step = started.elapsed().as_secs_f64() / steps_done as f64;
                    let remaining = (train.epochs - epoch) * spe - step - 1;
                    let ev = Event::Step {
                        epoch,
                        step,
                        global_step: global,
                        loss: stats.loss as f64,
                        accuracy: (stats.count > 0)
                            .then(|| stats.correct as f64 / stats.count as f64),
                        lr,
                        samples_per_s: window_samples as f64 / secs,
                        eta_s: per_step * remaining as f64,
                    };
                    self.send(ev);
                    (window_start, window_samples) = (Instant::now(), 0);
                }
                if let Interrupted::Stopped(st) =
                    self.poll_commands(&mut net, &mut opt, &dir, epoch)?
                {
                    status = st;
                    break 'epochs;
                }
            }
            // The epoch's figures.
            let mut metrics = Metrics::new();
            tally.into_metrics("train", is_text, &mut metrics);
            if data.val.is_some() {
                evaluate(&net, &data, Which::Val, g, cfg.limit_batches).into_metrics(
                    "val",
                    is_text,
                    &mut metrics,
                );
            }
            dir.row("epoch", epoch, (epoch + 1) * spe, &metrics)
                .map_err(io)?;
            dir.flush().map_err(io)?;
            self.send(Event::Epoch {
                epoch,
                global_step: (epoch + 1) * spe,
                lr,
                metrics: metrics.clone(),
                seconds: epoch_start.elapsed().as_secs_f64(),
            });
            self.send(Event::Histograms {
                epoch,
                global_step: (epoch + 1) * spe,
                params: net
                    .params
                    .list
                    .iter()
                    .filter(|p| p.trainable)
                    .map(|p| histogram::of(&p.name, &p.host()))
                    .collect(),
            });
            if let (Some(s), Some(vocab)) = (&exp.sample, &data.vocab) {
                if (epoch + 1) % s.every == 0 {
                    let mut rng = crate::params::rng(train.seed, 1000 + epoch as u64);
                    let window = g.facts.input.dims()[0];
                    let text = sample::generate(
                        &net,
                        vocab,
                        window,
                        &s.prompt,
                        s.length,
                        s.temperature,
                        &mut rng,
                    );
                    self.send(Event::Sample {
                        epoch,
                        text: format!("{}{}", s.prompt, text),
                    });
                }
            }
            final_metrics = metrics.clone();
            record.epochs_run = epoch + 1;
            record.metrics = metrics.clone();
            dir.write_record(&record).map_err(io)?;
            // Early stopping, keeping the best weights in memory.
            if let Some(es) = &train.early_stop {
                if let Some(&v) = metrics.get(&es.monitor) {
                    let better = match &best {
                        None => true,
                        Some((b, _)) if es.minimize() => v < b - es.min_delta,
                        Some((b, _)) => v > b + es.min_delta,
                    };
                    if better {
                        best = Some((v, net.params.list.iter().map(|p| p.host()).collect()));
                        since_best = 0;
                    } else {
                        since_best += 1;
                    }
                    if since_best >= es.patience {
                        self.send(Event::Log {
                            message: format!(
                                "early stop after epoch {}: {} has not improved for {} epochs",
                                epoch + 1,
                                es.monitor,
                                es.patience
                            ),
                        });
                        if es.restore_best {
                            if let Some((_, w)) = &best {
                                for (p, w) in net.params.list.iter_mut().zip(w) {
                                    p.set(w);
                                }
                            }
                        }
                        self.save(&mut net, &mut opt, &dir, epoch + 1)?;
                        break 'epochs;
                    }
                }
            }
            self.save(&mut net, &mut opt, &dir, epoch + 1)?;
        }

        if data.test.is_some() && status == Status::Completed {
            evaluate(&net, &data, Which::Test, g, cfg.limit_batches).into_metrics(
                "test",
                is_text,
                &mut final_metrics,
            );
        }
        if let (Some(spec), Status::Completed) = (&exp.compress, status) {
            if spec.prune.is_some() || spec.quantize_int8 {
                let out = compression::compress(
                    spec,
                    &mut net,
                    &mut opt,
                    &data,
                    g,
                    &dir.path,
                    cfg.limit_batches,
                )?;
                for message in out.log {
                    self.send(Event::Log { message });
                }
                final_metrics.extend(out.metrics);
                record.compression = out.reports.clone();
                self.send(Event::Compression {
                    reports: out.reports,
                });
            }
        }
        let expect = judge(&exp.expect, &final_metrics, &cfg.source);
        record.finished = Some(record::now());
        record.status = match status {
            Status::Completed => "completed",
            Status::Stopped => "stopped",
            Status::Interrupted => "interrupted",
        }
        .into();
        record.metrics = final_metrics.clone();
        record.expect = expect.clone();
        dir.write_record(&record).map_err(io)?;
        dir.row(
            "final",
            record.epochs_run,
            record.epochs_run * spe,
            &final_metrics,
        )
        .map_err(io)?;
        dir.flush().map_err(io)?;
        self.send(Event::Finished {
            status,
            metrics: final_metrics,
            expect,
            run_dir: dir.path.clone(),
        });
        Ok(())
    }

    fn save(
        &self,
        net: &mut Network,
        opt: &mut Optimizer,
        dir: &RunDir,
        epochs_done: usize,
    ) -> Result<(), Failure> {
        let mut ck = Checkpoint::default();
        for p in &net.params.list {
            ck.tensors.push((p.name.clone(), p.shape.clone(), p.host()));
        }
        for (name, data) in opt
            .export(&net.params)
            .map_err(|e| fail(FailureKind::Io, e.to_string()))?
        {
            let n = data.len();
            ck.tensors.push((name, vec![n], data));
        }
        ck.metadata
            .insert("epochs_done".into(), epochs_done.to_string());
        ck.metadata
            .insert("optimizer_steps".into(), opt.steps.to_string());
        ck.metadata
            .insert("dlwb_version".into(), env!("CARGO_PKG_VERSION").into());
        ck.save(&dir.checkpoint_path())
            .map_err(|e| fail(FailureKind::Io, e.to_string()))
    }

    fn diverged(
        &self,
        dir: &RunDir,
        record: &mut RunRecord,
        epoch: usize,
        step: usize,
        what: String,
    ) -> Failure {
        let message = format!(
            "training diverged at epoch {}, step {}: {what}; the last good checkpoint is {} (try a lower learning rate or `clip_grad`)",
            epoch + 1,
            step + 1,
            dir.checkpoint_path().display()
        );
        record.status = "diverged".into();
        record.error = Some(message.clone());
        record.finished = Some(record::now());
        let _ = dir.write_record(record);
        fail(FailureKind::Diverged, message)
    }

    /// Handles commands between steps; pausing blocks here.
    fn poll_commands(
        &self,
        net: &mut Network,
        opt: &mut Optimizer,
        dir: &RunDir,
        epoch: usize,
    ) -> Result<Interrupted, Failure> {
        let mut paused = false;
        loop {
            let cmd = if paused {
                match self.commands.recv() {
                    Ok(c) => c,
                    Err(_) => return Ok(Interrupted::Stopped(Status::Stopped)),
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return Ok(Interrupted::No),
                    Err(TryRecvError::Disconnected) => return Ok(Interrupted::No),
                }
            };
            match cmd {
                Command::Pause => paused = true,
                Command::Resume => paused = false,
                Command::SaveCheckpoint => {
                    self.save(net, opt, dir, epoch)?;
                    self.send(Event::Log {
                        message: format!("checkpoint saved to {}", dir.checkpoint_path().display()),
                    });
                }
                Command::Stop | Command::Interrupt => {
                    self.save(net, opt, dir, epoch)?;
                    let st = if cmd == Command::Stop {
                        Status::Stopped
                    } else {
                        Status::Interrupted
                    };
                    return Ok(Interrupted::Stopped(st));
                }
            }
        }
    }
}

fn evaluate(net: &Network, data: &Data, which: Which, g: &Graph, limit: Option<usize>) -> Tally {
    let mut t = Tally::default();
    let plan = data
        .plan(which, g.experiment.train.batch, 0, limit)
        .expect("the split exists");
    let weights = net.snapshot();
    for b in plan.epoch(0) {
        let s = net.evaluate_in(&weights, &b, g.loss, false, 0);
        t.add(&s, b.size);
    }
    t
}

/// The data must say what the checked graph assumed.
fn check_data_fits(g: &Graph, data: &Data) -> Result<(), Failure> {
    if let (Target::NextToken { vocab }, Some(v)) = (g.facts.target, &data.vocab) {
        if v.len() != vocab {
            return Err(fail(
                FailureKind::InvalidData,
                format!(
                    "the corpus now has {} characters, but the model was checked for {vocab}",
                    v.len()
                ),
            ));
        }
    }
    if let (Target::Classes { classes }, Some(c)) = (g.facts.target, data.learned.classes) {
        if c != classes {
            return Err(fail(
                FailureKind::InvalidData,
                format!("the labels hold {c} classes, but the model was checked for {classes}"),
            ));
        }
    }
    Ok(())
}

/// Each `expect` line against the final metrics.
pub fn judge(
    expect: &[dlwb_dsl::experiment::Expectation],
    metrics: &Metrics,
    source: &str,
) -> Vec<ExpectResult> {
    expect
        .iter()
        .map(|e| {
            let value = metrics.get(&e.metric).copied();
            ExpectResult {
                expect: e.text(),
                metric: e.metric.clone(),
                value,
                met: value.is_some_and(|v| e.op.holds(v, e.value)),
                line: dlwb_dsl::diagnostic::line_col(source, e.span.start).0,
            }
        })
        .collect()
}
