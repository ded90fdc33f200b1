//! A run's first stage: the data loaded and checked against the model, the
//! network built (or warm-started), and the run folder created or, for
//! `--resume`, reopened at its checkpoint's position.

use crate::backend::Backend;
use std::path::Path;
use std::sync::Arc;

use dlwb_dsl::experiment::{is_folder_char, SourceKind};
use dlwb_dsl::{Graph, Target};

use super::checkpoint::Checkpoint;
use super::events::{self, Event, Metrics};
use super::lock::RunLock;
use super::progress::{self, Progress};
use super::record::{self, Cut, PastRecord, RunDir, RunDirError, RunRecord, RunStatus};
use super::{Error, Worker};
use crate::data::{self, BatchPlan, Data, Which};
use crate::network::{compile_on, Network};
use crate::optim::Optimizer;
use crate::params::{Fit, LoadError, Loaded};

/// Everything a run's stages share.
pub(super) struct Run<B: Backend> {
    pub data: Data,
    pub net: Network<B>,
    pub opt: Optimizer<B>,
    pub dir: RunDir,
    pub plan: Arc<BatchPlan>,
    pub progress: Progress,
    /// Distillation's teacher, its temperature and weight.
    pub teacher: Option<(Network<B>, f64, f64)>,
    pub is_text: bool,
}

impl<B: Backend> Run<B> {
    pub fn steps_per_epoch(&self) -> usize {
        self.plan.batches_per_epoch()
    }
}

/// The environment variable that makes the training thread panic at a
/// global step: how the tests reach the crash path, which no valid input
/// should.
pub const PANIC_AT_STEP: &str = "DLWB_TEST_PANIC_AT_STEP";

impl Worker<'_> {
    /// The run's stages share what this returns, on backend `be`.
    pub(super) fn setup<B: Backend>(&mut self, be: Arc<B>) -> Result<Run<B>, Error> {
        let cfg = self.cfg;
        let g = &cfg.graph;
        let train = &g.experiment.train;
        if let Some(t) = cfg.threads {
            crate::kernels::matmul::set_threads(t);
        }
        if cfg.limit_batches == Some(0) {
            return Err(Error::Refused(
                "--limit-batches 0 would train on no batches: give 1 or more".into(),
            ));
        }
        let base = cfg.file.parent().unwrap_or(Path::new("."));
        let data = data::load(&g.experiment.data, base, train.seed).map_err(Error::Data)?;
        check_data_fits(g, &data)?;
        let teacher = self.teacher(&be)?;
        let plan = data
            .plan(Which::Train, train.batch, train.seed, cfg.limit_batches)
            .expect("every source has a training split");
        let mut net = compile_on(be, g, train.seed)?;
        let mut opt = Optimizer::new(train);
        let warm = self.warm_start(&mut net);
        let (dir, progress, past) = match &cfg.resume {
            Some(path) => self.reopen(path, &mut net, &mut opt, plan.batches_per_epoch())?,
            None => self.create()?,
        };
        self.run_dir = Some(dir.path.clone());
        let mut run = Run {
            is_text: g.experiment.data.source == SourceKind::Text,
            data,
            net,
            opt,
            dir,
            plan: Arc::new(plan),
            progress,
            teacher,
        };
        let record = self.first_record(&run, past);
        run.dir.write_record(&record).map_err(io)?;
        self.record = Some(record);
        if cfg.resume.is_none() {
            // A checkpoint exists from the start, so a run that diverges
            // early still leaves its first weights.
            self.save(&mut run)?;
        }
        self.announce(&run, warm);
        Ok(run)
    }

    fn teacher<B: Backend>(&self, be: &Arc<B>) -> Result<Option<(Network<B>, f64, f64)>, Error> {
        let g = &self.cfg.graph;
        let Some(d) = g
            .experiment
            .compress
            .as_ref()
            .and_then(|c| c.distill.as_ref())
        else {
            return Ok(None);
        };
        // Checked by `dlwb check` already; loaded again for the weights.
        let base = self.cfg.file.parent().unwrap_or(Path::new("."));
        let t = super::teacher::load_on(Arc::clone(be), d, base, g).map_err(Error::Refused)?;
        Ok(Some((t, d.temperature, d.alpha)))
    }

    /// `--init`: the checkpoint's weights wherever names and shapes match.
    fn warm_start<B: Backend>(&self, net: &mut Network<B>) -> Loaded {
        match &self.cfg.warm_start {
            Some(ck) => net
                .params
                .load(&**ck, Fit::WhereTheyMatch)
                .expect("a partial fit never fails"),
            None => Loaded::default(),
        }
    }

    fn create(&self) -> Result<(RunDir, Progress, Option<PastRecord>), Error> {
        let cfg = self.cfg;
        let exp = &cfg.graph.experiment;
        let name = if exp.name.is_empty() {
            folder_name(&cfg.file)
        } else {
            exp.name.clone()
        };
        let context = format!(
            "cannot create a run folder under {}",
            cfg.runs_dir.display()
        );
        let dir = RunDir::create(&cfg.runs_dir, &name, &cfg.source)
            .map_err(|e| run_dir_error(e, context))?;
        Ok((dir, Progress::default(), None))
    }

    /// `--resume`: the folder locked, its checkpoint restored, and its
    /// metrics cut back to the checkpoint; with the record it had.
    fn reopen<B: Backend>(
        &self,
        path: &Path,
        net: &mut Network<B>,
        opt: &mut Optimizer<B>,
        steps_per_epoch: usize,
    ) -> Result<(RunDir, Progress, Option<PastRecord>), Error> {
        let lock = RunLock::acquire(path)?;
        let invalid = Error::Refused;
        let past = PastRecord::read(path).map_err(invalid)?;
        let epochs = self.cfg.graph.experiment.train.epochs;
        if past.status == RunStatus::Completed && epochs <= past.train.epochs {
            return Err(invalid(already_completed(path, past.epochs_run)));
        }
        let ck = Checkpoint::load(&path.join(record::CHECKPOINT))?;
        net.params.load(&ck, Fit::Every).map_err(|e| match e {
            LoadError::Unmatched(u) => invalid(format!(
                "{} does not match the checkpoint in {}: resume needs the same model",
                u.name,
                path.display()
            )),
            LoadError::Backend(e) => Error::Device(e),
        })?;
        let progress = Progress::of(&ck, net);
        opt.import(
            &net.params,
            |n| ck.get(n).map(|(_, d)| d.to_vec()),
            progress::optimizer_steps(&ck),
        )?;
        let cut = Cut {
            steps_done: progress.steps_done(steps_per_epoch),
            epochs_done: progress.epochs_done,
        };
        let context = format!("cannot reopen run folder {}", path.display());
        let dir = RunDir::reopen(path, lock, cut, &self.cfg.source)
            .map_err(|e| run_dir_error(e, context))?;
        Ok((dir, progress, Some(past)))
    }

    fn first_record<B: Backend>(&self, run: &Run<B>, past: Option<PastRecord>) -> RunRecord {
        let cfg = self.cfg;
        let exp = &cfg.graph.experiment;
        let (started, mut resumed, metrics) = match past {
            Some(p) => (p.started, p.resumed, p.metrics),
            None => (record::now(), Vec::new(), Metrics::new()),
        };
        if cfg.resume.is_some() {
            resumed.push(record::now());
        }
        RunRecord {
            experiment: exp.name.clone(),
            file: cfg.file.display().to_string(),
            dlwb_version: env!("CARGO_PKG_VERSION").into(),
            started,
            resumed,
            finished: None,
            status: RunStatus::Running,
            seed: exp.train.seed,
            device: run.net.be.describe(),
            threads: crate::kernels::matmul::threads(),
            limit_batches: cfg.limit_batches,
            params: run.net.params.count(),
            train: exp.train.clone(),
            data: exp.data.clone(),
            overrides: cfg.overrides.clone(),
            vocab: run.data.vocab.as_ref().map(|v| v.chars().iter().collect()),
            classes: run.data.class_names.clone(),
            error: None,
            metrics,
            expect: Vec::new(),
            epochs_run: run.progress.epochs_done,
            compression: Vec::new(),
            parent: self.cfg.parent.clone(),
            slurm: self.cfg.slurm.clone(),
        }
    }

    fn announce<B: Backend>(&self, run: &Run<B>, warm: Loaded) {
        let g = &self.cfg.graph;
        self.send(Event::Started {
            experiment: g.experiment.name.clone(),
            run_dir: run.dir.path.clone(),
            device: run.net.be.describe(),
            threads: crate::kernels::matmul::threads(),
            params: run.net.params.count(),
            epochs: g.experiment.train.epochs,
            steps_per_epoch: run.steps_per_epoch(),
            train_samples: run.data.train.len(),
            layers: dlwb_dsl::summary::rows(g)
                .into_iter()
                .map(|r| events::LayerRow {
                    name: format!("{}{}", "  ".repeat(r.depth), r.name),
                    kind: r.kind,
                    output: r.output,
                    params: r.params,
                })
                .collect(),
            warm_kept: warm.kept,
            warm_reinitialized: warm.reinitialized,
            resumed_at: self
                .cfg
                .resume
                .is_some()
                .then_some((run.progress.epochs_done, run.progress.steps_in_epoch)),
        });
    }
}

pub(super) fn io(e: std::io::Error) -> Error {
    Error::io("cannot write the run folder")(e)
}

/// A run folder that cannot be created or reopened, saying which.
fn run_dir_error(e: RunDirError, context: String) -> Error {
    match e {
        RunDirError::Lock(l) => Error::Lock(l),
        RunDirError::Io(e) => Error::io(context)(e),
    }
}

/// Why a finished run is not resumed, and what to do instead.
pub fn already_completed(path: &Path, epochs_run: usize) -> String {
    format!(
        "{p} already completed ({epochs_run} epochs); `--init {p}/{ck}` starts a new run from its weights, or `--epochs N` with N above {epochs_run} continues it",
        p = path.display(),
        ck = record::CHECKPOINT
    )
}

/// A folder name from a file name, for files without an `experiment` line:
/// anything but letters, digits, `-`, `_` and `.` becomes `_`.
fn folder_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map_or("experiment".into(), |s| s.to_string_lossy().into_owned());
    let safe: String = stem
        .chars()
        .map(|c| if is_folder_char(c) { c } else { '_' })
        .collect();
    match safe.trim_matches('.') {
        "" => "experiment".into(),
        s => s.into(),
    }
}

/// The data must say what the checked graph assumed.
fn check_data_fits(g: &Graph, data: &Data) -> Result<(), Error> {
    let invalid = |m: String| Err(Error::Refused(m));
    if let (Target::NextToken { vocab }, Some(v)) = (g.facts.target, &data.vocab) {
        if v.len() != vocab {
            return invalid(format!(
                "the corpus now has {} characters, but the model was checked for {vocab}",
                v.len()
            ));
        }
    }
    if let (Target::Classes { classes }, Some(c)) = (g.facts.target, data.learned.classes) {
        if c != classes {
            return invalid(format!(
                "the labels hold {c} classes, but the model was checked for {classes}"
            ));
        }
    }
    let built_for = g.facts.input.elements();
    for split in [Some(&data.train), data.val.as_ref(), data.test.as_ref()]
        .into_iter()
        .flatten()
    {
        let holds = split.samples.input_len();
        if let (
            crate::data::Samples::Images {
                shape: [c, h, w], ..
            },
            dlwb_dsl::Shape::Image {
                channels,
                height,
                width,
            },
        ) = (split.samples.as_ref(), g.facts.input)
        {
            if [*c, *h, *w] != [channels, height, width] {
                let chans = |c: usize| {
                    if c == 1 {
                        String::new()
                    } else {
                        format!("{c}-channel ")
                    }
                };
                return invalid(format!(
                    "{} holds {}{h}x{w} images; the model was built for {}{height}x{width}",
                    data.origin,
                    chans(*c),
                    chans(channels)
                ));
            }
        }
        if holds != built_for {
            return invalid(format!(
                "{} holds samples of {holds} values; the model was built for {built_for} ({})",
                data.origin, g.facts.input
            ));
        }
    }
    Ok(())
}
