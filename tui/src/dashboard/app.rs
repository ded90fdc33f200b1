//! The dashboard's state, separate from drawing: it changes only through
//! engine events, key presses and reload results, so tests drive it
//! without a terminal.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dlwb_dsl::metric::{Metric, Quantity, Stage};
use dlwb_engine::run::events::{Histogram, LayerRow};
use dlwb_engine::run::{Event, ExpectResult, FailureKind, Metrics, Status};

/// EMA smoothing factors that `+` and `-` step through.
pub const SMOOTHING: [f64; 6] = [0.0, 0.6, 0.8, 0.9, 0.95, 0.98];

#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Starting,
    Running,
    Paused,
    Finished(Status),
    Failed(FailureKind, String),
    /// Waiting for the old run to stop before the new one starts.
    Reloading,
}

impl RunState {
    pub fn label(&self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Finished(Status::Interrupted) => "interrupted",
            RunState::Finished(Status::Stopped) => "stopped",
            RunState::Finished(Status::Completed) => "finished",
            RunState::Failed(FailureKind::Crashed, _) => "crashed",
            RunState::Failed(..) => "failed",
            RunState::Reloading => "reloading",
        }
    }

    pub fn is_training(&self) -> bool {
        matches!(
            self,
            RunState::Starting | RunState::Running | RunState::Paused | RunState::Reloading
        )
    }
}

/// The curves of one run; earlier runs stay on the charts after a reload.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    /// Where this run starts on the shared step axis.
    pub offset: f64,
    pub train_loss: Vec<(f64, f64)>,
    pub train_acc: Vec<(f64, f64)>,
    pub val_loss: Vec<(f64, f64)>,
    pub val_acc: Vec<(f64, f64)>,
}

impl Segment {
    pub fn end(&self) -> f64 {
        self.train_loss.last().map_or(self.offset, |p| p.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Charts,
    Weights,
    Model,
    Log,
}

impl Panel {
    const ORDER: [Panel; 4] = [Panel::Charts, Panel::Weights, Panel::Model, Panel::Log];

    pub fn next(self) -> Panel {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0);
        Self::ORDER[(i + 1) % Self::ORDER.len()]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogKind {
    Info,
    Error,
    Reload,
}

/// What a key asks the loop to do beyond changing the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Pause,
    Resume,
    Restart,
    Save,
    Quit,
    /// Ctrl-C: stop as SIGINT does (checkpoint, `interrupted`, exit 130).
    Interrupt,
}

#[derive(Debug, Clone)]
pub struct App {
    pub file: PathBuf,
    pub experiment: String,
    pub state: RunState,
    pub device: String,
    pub threads: usize,
    pub params: usize,
    pub epoch: usize,
    pub epochs: usize,
    pub step: usize,
    pub steps_per_epoch: usize,
    pub samples_per_s: f64,
    pub eta_s: f64,
    pub segments: Vec<Segment>,
    pub layers: Vec<LayerRow>,
    /// Weight distributions over time, per event of the current run.
    pub histograms: Vec<(usize, Vec<Histogram>)>,
    pub selected: usize,
    pub log: Vec<(LogKind, String)>,
    /// Diagnostics of the last bad edit; cleared by the next good save.
    pub diagnostics: Vec<String>,
    pub sample: Option<String>,
    /// What the latest reload changed, kept on screen until the next.
    pub last_reload: Option<String>,
    pub reloads: usize,
    pub metrics: Metrics,
    pub compression: Vec<dlwb_engine::run::Report>,
    pub expect: Vec<ExpectResult>,
    pub run_dir: Option<PathBuf>,
    pub focus: Panel,
    pub expanded: bool,
    pub help: bool,
    pub confirm_quit: bool,
    pub smoothing: usize,
    pub log_scale: bool,
    pub quit: bool,
}

impl App {
    pub fn new(file: PathBuf) -> Self {
        App {
            file,
            experiment: String::new(),
            state: RunState::Starting,
            device: "cpu".into(),
            threads: 0,
            params: 0,
            epoch: 0,
            epochs: 0,
            step: 0,
            steps_per_epoch: 0,
            samples_per_s: 0.0,
            eta_s: 0.0,
            segments: Vec::new(),
            layers: Vec::new(),
            histograms: Vec::new(),
            selected: 0,
            log: Vec::new(),
            diagnostics: Vec::new(),
            sample: None,
            last_reload: None,
            reloads: 0,
            metrics: Metrics::new(),
            compression: Vec::new(),
            expect: Vec::new(),
            run_dir: None,
            focus: Panel::Charts,
            expanded: false,
            help: false,
            confirm_quit: false,
            smoothing: 1,
            log_scale: false,
            quit: false,
        }
    }

    /// Progress through the whole run, in [0, 1].
    pub fn progress(&self) -> f64 {
        let total = (self.epochs * self.steps_per_epoch).max(1);
        ((self.epoch * self.steps_per_epoch + self.step) as f64 / total as f64).clamp(0.0, 1.0)
    }

    pub fn current(&mut self) -> &mut Segment {
        if self.segments.is_empty() {
            self.segments.push(Segment::default());
        }
        self.segments.last_mut().unwrap()
    }

    pub fn note(&mut self, kind: LogKind, text: impl Into<String>) {
        self.log.push((kind, text.into()));
        if self.log.len() > 500 {
            self.log.remove(0);
        }
    }

    pub fn on_event(&mut self, e: &Event) {
        match e {
            Event::Started { .. } => self.on_started(e),
            Event::Step {
                epoch,
                step,
                global_step,
                loss,
                accuracy,
                samples_per_s,
                eta_s,
                ..
            } => {
                self.epoch = *epoch;
                self.step = step + 1;
                self.samples_per_s = *samples_per_s;
                self.eta_s = *eta_s;
                let seg = self.current();
                let x = seg.offset + (*global_step + 1) as f64;
                seg.train_loss.push((x, *loss));
                if let Some(a) = accuracy {
                    seg.train_acc.push((x, *a));
                }
            }
            Event::Epoch {
                epoch,
                global_step,
                metrics,
                ..
            } => self.on_epoch(*epoch, *global_step, metrics),
            Event::Histograms { epoch, params, .. } => {
                self.histograms.push((*epoch, params.clone()));
                if self.selected >= params.len() {
                    self.selected = 0;
                }
            }
            Event::Sample { text, .. } => self.sample = Some(text.clone()),
            Event::Compression { reports } => {
                self.compression = reports.clone();
                self.note(
                    LogKind::Info,
                    format!("compressed in {} steps", reports.len()),
                );
            }
            Event::Log { message } => self.note(LogKind::Info, message.clone()),
            Event::Finished {
                status,
                metrics,
                expect,
                run_dir,
            } => self.on_finished(*status, metrics, expect, run_dir),
            Event::Failed { kind, error, .. } => {
                self.state = RunState::Failed(*kind, error.clone());
                self.note(LogKind::Error, error.clone());
            }
        }
    }

    fn on_started(&mut self, e: &Event) {
        let Event::Started {
            experiment,
            run_dir,
            device,
            threads,
            params,
            epochs,
            steps_per_epoch,
            layers,
            warm_kept,
            warm_reinitialized,
            resumed_at,
            ..
        } = e
        else {
            return;
        };
        // A new run continues the step axis where the last one ended.
        match self.segments.last() {
            None => self.segments.push(Segment::default()),
            Some(last) if !last.train_loss.is_empty() => {
                let offset = last.end();
                self.segments.push(Segment {
                    offset,
                    ..Segment::default()
                });
            }
            Some(_) => {}
        }
        self.experiment = experiment.clone();
        self.run_dir = Some(run_dir.clone());
        self.device = device.clone();
        self.threads = *threads;
        self.params = *params;
        self.epochs = *epochs;
        self.steps_per_epoch = *steps_per_epoch;
        self.epoch = resumed_at.map_or(0, |(done, _)| done);
        self.step = resumed_at.map_or(0, |(_, steps)| steps);
        self.layers = layers.clone();
        self.histograms.clear();
        self.metrics.clear();
        self.expect.clear();
        self.state = RunState::Running;
        if warm_kept + warm_reinitialized > 0 {
            let warm =
                format!("{warm_kept} parameters kept, {warm_reinitialized} initialized anew");
            self.note(LogKind::Reload, format!("warm start: {warm}"));
            if let Some(r) = &mut self.last_reload {
                r.push_str(&format!(" · {warm}"));
            }
        }
        if let Some((done, steps)) = resumed_at {
            self.note(
                LogKind::Info,
                format!("resumed after {done} epochs and {steps} steps of the next"),
            );
        }
        self.note(LogKind::Info, format!("run folder {}", run_dir.display()));
    }

    /// Steps the current run has taken, over all its epochs.
    pub fn steps_done(&self) -> usize {
        self.epoch * self.steps_per_epoch + self.step
    }

    fn on_epoch(&mut self, epoch: usize, global_step: usize, metrics: &Metrics) {
        self.epoch = epoch + 1;
        self.step = 0;
        let seg = self.current();
        let x = seg.offset + global_step as f64;
        if let Some(v) = metrics.get(Metric::Of(Stage::Val, Quantity::Loss).name()) {
            seg.val_loss.push((x, *v));
        }
        if let Some(v) = metrics.get(Metric::Of(Stage::Val, Quantity::Accuracy).name()) {
            seg.val_acc.push((x, *v));
        }
        let line = metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect::<Vec<_>>()
            .join("  ");
        self.note(LogKind::Info, format!("epoch {}: {line}", epoch + 1));
        self.metrics = metrics.clone();
    }

    fn on_finished(
        &mut self,
        status: Status,
        metrics: &Metrics,
        expect: &[ExpectResult],
        run_dir: &std::path::Path,
    ) {
        if self.state != RunState::Reloading {
            self.state = RunState::Finished(status);
        }
        self.metrics = metrics.clone();
        self.expect = expect.to_vec();
        let verdicts: Vec<String> = expect
            .iter()
            .map(|e| format!("{} {}", e.expect, if e.met { "met" } else { "MISSED" }))
            .collect();
        self.note(
            LogKind::Info,
            format!("finished ({status:?}) {}", verdicts.join(", ")),
        );
        self.note(LogKind::Info, format!("saved in {}", run_dir.display()));
    }

    /// A save whose file does not check: its diagnostics stay on screen
    /// while the current run goes on.
    pub fn on_bad_edit(&mut self, lines: Vec<String>) {
        self.note(
            LogKind::Error,
            format!("{} does not check; the run goes on", self.file.display()),
        );
        self.diagnostics = lines;
    }

    /// A good save: the run restarts from the new model.
    pub fn on_reload(&mut self, changes: &str) {
        self.diagnostics.clear();
        self.reloads += 1;
        self.last_reload = Some(format!("reloaded: {changes}"));
        self.note(LogKind::Reload, format!("reloaded: {changes}"));
        if self.state.is_training() {
            self.state = RunState::Reloading;
        }
    }

    /// The names of the parameters that have histograms.
    pub fn param_names(&self) -> Vec<&str> {
        self.histograms
            .last()
            .map(|(_, h)| h.iter().map(|h| h.name.as_str()).collect())
            .unwrap_or_default()
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return Action::Interrupt;
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                self.quit = true;
                return Action::Quit;
            }
            return Action::None;
        }
        if self.help {
            self.help = false;
            return Action::None;
        }
        match key.code {
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('q') | KeyCode::Esc => {
                if self.state.is_training() {
                    self.confirm_quit = true;
                } else {
                    self.quit = true;
                    return Action::Quit;
                }
            }
            KeyCode::Char(' ') => match self.state {
                RunState::Running => {
                    self.state = RunState::Paused;
                    return Action::Pause;
                }
                RunState::Paused => {
                    self.state = RunState::Running;
                    return Action::Resume;
                }
                _ => {}
            },
            KeyCode::Char('r') => return Action::Restart,
            KeyCode::Char('s') => return Action::Save,
            KeyCode::Tab => self.focus = self.focus.next(),
            KeyCode::Char(']') => {
                let n = self.param_names().len().max(1);
                self.selected = (self.selected + 1) % n;
            }
            KeyCode::Char('[') => {
                let n = self.param_names().len().max(1);
                self.selected = (self.selected + n - 1) % n;
            }
            KeyCode::Char('l') => self.log_scale = !self.log_scale,
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.smoothing = (self.smoothing + 1).min(SMOOTHING.len() - 1)
            }
            KeyCode::Char('-') => self.smoothing = self.smoothing.saturating_sub(1),
            KeyCode::Char('e') => self.expanded = !self.expanded,
            _ => {}
        }
        Action::None
    }
}
