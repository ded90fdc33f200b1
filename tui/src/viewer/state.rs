//! What `dlwb view` shows, separate from drawing: runs' curves and
//! weights, the legend's entries (a run, or a seed group as its mean with a
//! min–max band), which are shown, and the keys that change them. A live
//! sweep feeds the same state from its trials' events.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dlwb_engine::run::events::Histogram;
use dlwb_engine::run::Event;
use ratatui::style::Color;

use crate::dashboard::app::SMOOTHING;
use crate::finished::{self, FinishedRun};

/// Distinct colours for the legend's entries, in order, each with the
/// darker twin its seed band is drawn in (16-colour terminals have both;
/// a chart's cells keep a colour, not a dim attribute).
pub const PALETTE: [(Color, Color); 7] = [
    (Color::LightCyan, Color::Cyan),
    (Color::LightYellow, Color::Yellow),
    (Color::LightGreen, Color::Green),
    (Color::LightMagenta, Color::Magenta),
    (Color::LightRed, Color::Red),
    (Color::LightBlue, Color::Blue),
    (Color::White, Color::Gray),
];

/// One quantity of a run over steps.
pub type Points = Vec<(f64, f64)>;

/// The curves a run draws: training per step, validation per epoch.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    pub train_loss: Points,
    pub train_acc: Points,
    pub val_loss: Points,
    pub val_acc: Points,
}

/// Which of a run's curves: the loss chart's or the accuracy chart's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Loss,
    Accuracy,
}

impl Curves {
    /// The training and validation points of `q`.
    pub fn of(&self, q: Quantity) -> (&Points, &Points) {
        match q {
            Quantity::Loss => (&self.train_loss, &self.val_loss),
            Quantity::Accuracy => (&self.train_acc, &self.val_acc),
        }
    }
}

/// A run as the viewer holds it.
#[derive(Debug, Clone)]
pub struct ViewRun {
    pub dir: PathBuf,
    pub label: String,
    pub status: String,
    pub settings: BTreeMap<String, String>,
    pub curves: Curves,
    /// Weight distributions over time: `(index, params)`.
    pub histograms: Vec<(usize, Vec<Histogram>)>,
    /// Final metrics, or the latest epoch's while it trains.
    pub metrics: BTreeMap<String, f64>,
}

impl ViewRun {
    pub fn from_finished(run: &FinishedRun) -> ViewRun {
        let pick = |rows: &BTreeMap<String, Points>, name: &str| {
            rows.get(name).cloned().unwrap_or_default()
        };
        let curves = Curves {
            train_loss: pick(&run.steps, "train.loss"),
            train_acc: pick(&run.steps, "train.accuracy"),
            val_loss: pick(&run.epochs, "val.loss"),
            val_acc: pick(&run.epochs, "val.accuracy"),
        };
        let mut by_step: BTreeMap<u64, Vec<Histogram>> = BTreeMap::new();
        for b in &run.bands {
            by_step.entry(b.step).or_default().push(b.histogram());
        }
        let metrics = run.record["metrics"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((finished::text(k), v.as_f64()?)))
            .collect();
        ViewRun {
            dir: run.dir.clone(),
            label: run.label(),
            status: finished::text(&run.record["status"]),
            settings: run.settings(),
            curves,
            histograms: by_step.into_values().enumerate().collect(),
            metrics,
        }
    }

    /// A run not started yet (a sweep's trial), named `label`.
    pub fn pending(label: String, settings: BTreeMap<String, String>) -> ViewRun {
        ViewRun {
            dir: PathBuf::new(),
            label,
            status: "pending".into(),
            settings,
            curves: Curves::default(),
            histograms: Vec::new(),
            metrics: BTreeMap::new(),
        }
    }

    /// A live run's event: its curves and status grow with it.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Started { run_dir, .. } => {
                self.dir = run_dir.clone();
                self.status = "running".into();
            }
            Event::Step {
                global_step,
                loss,
                accuracy,
                ..
            } => {
                let x = *global_step as f64;
                self.curves.train_loss.push((x, *loss));
                if let Some(a) = accuracy {
                    self.curves.train_acc.push((x, *a));
                }
            }
            Event::Epoch {
                global_step,
                metrics,
                ..
            } => {
                let x = *global_step as f64;
                for (name, points) in [
                    ("val.loss", &mut self.curves.val_loss),
                    ("val.accuracy", &mut self.curves.val_acc),
                ] {
                    if let Some(v) = metrics.get(name) {
                        points.push((x, *v));
                    }
                }
                self.metrics.extend(metrics.clone());
            }
            Event::Histograms { params, .. } => {
                let i = self.histograms.len();
                self.histograms.push((i, params.clone()));
            }
            Event::Finished {
                status, metrics, ..
            } => {
                self.status = snake_name(status);
                self.metrics.extend(metrics.clone());
            }
            Event::Failed { kind, .. } => self.status = snake_name(&kind.status()),
            _ => {}
        }
    }
}

/// A status as `run.yaml` spells it.
fn snake_name(status: &impl serde::Serialize) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A line of the legend: one run, or the runs of a seed group.
#[derive(Debug, Clone)]
pub struct Entry {
    pub label: String,
    pub color: Color,
    /// A seed group's min–max band.
    pub band: Color,
    pub visible: bool,
    /// Indices into the viewer's runs.
    pub members: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Legend,
    Weights,
}

#[derive(Debug, Clone)]
pub struct Viewer {
    pub title: String,
    pub runs: Vec<ViewRun>,
    pub entries: Vec<Entry>,
    /// Seed groups collapsed into one entry each.
    pub grouped: bool,
    /// The selected entry of the legend.
    pub selected: usize,
    /// The selected parameter in the weights panel.
    pub param: usize,
    pub focus: Focus,
    pub smoothing: usize,
    pub log_scale: bool,
    /// The metric the legend shows beside each entry.
    pub monitor: String,
    pub help: bool,
    pub quit: bool,
}

impl Viewer {
    pub fn new(title: String, runs: Vec<ViewRun>, monitor: String) -> Viewer {
        let mut v = Viewer {
            title,
            runs,
            entries: Vec::new(),
            grouped: true,
            selected: 0,
            param: 0,
            focus: Focus::Legend,
            smoothing: 1,
            log_scale: false,
            monitor,
            help: false,
            quit: false,
        };
        v.regroup();
        v
    }

    /// The legend's entries anew: runs that differ only in their seed as
    /// one entry while `grouped`, else one entry per run. Visibility is
    /// kept for entries that stay.
    pub fn regroup(&mut self) {
        let hidden: Vec<Vec<usize>> = self
            .entries
            .iter()
            .filter(|e| !e.visible)
            .map(|e| e.members.clone())
            .collect();
        let mut groups: Vec<(BTreeMap<String, String>, Vec<usize>)> = Vec::new();
        for (i, r) in self.runs.iter().enumerate() {
            let key = if self.grouped {
                finished::without_seeds(&r.settings)
            } else {
                r.settings.clone()
            };
            match groups.iter_mut().find(|(k, _)| self.grouped && *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        // Each entry is named by the settings that tell it from the others.
        let keys = crate::table::differing(groups.iter().map(|(k, _)| k));
        let short = short_names(&keys);
        self.entries = groups
            .into_iter()
            .enumerate()
            .map(|(n, (settings, members))| {
                let named: Vec<String> = keys
                    .iter()
                    .zip(&short)
                    .map(|(k, name)| {
                        format!("{name}={}", settings.get(k).map_or("", |v| v.as_str()))
                    })
                    .collect();
                let name = if named.is_empty() {
                    self.runs[members[0]].label.clone()
                } else {
                    named.join(" ")
                };
                Entry {
                    label: match members.len() {
                        1 => name,
                        k => format!("{name} ({k} seeds)"),
                    },
                    color: PALETTE[n % PALETTE.len()].0,
                    band: PALETTE[n % PALETTE.len()].1,
                    visible: !hidden.contains(&members),
                    members,
                }
            })
            .collect();
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
    }

    /// The selected entry's first run: whose weights the panel shows.
    pub fn selected_run(&self) -> Option<&ViewRun> {
        let e = self.entries.get(self.selected)?;
        self.runs.get(*e.members.first()?)
    }

    pub fn alpha(&self) -> f64 {
        SMOOTHING[self.smoothing]
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if self.help {
            self.help = false;
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let n = self.entries.len();
        match key.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Down | KeyCode::Char('j') if n > 0 => self.selected = (self.selected + 1) % n,
            KeyCode::Up | KeyCode::Char('k') if n > 0 => {
                self.selected = (self.selected + n - 1) % n
            }
            KeyCode::Char(' ') | KeyCode::Enter => {
                if let Some(e) = self.entries.get_mut(self.selected) {
                    e.visible = !e.visible;
                }
            }
            KeyCode::Char('a') => {
                let all = self.entries.iter().all(|e| e.visible);
                self.entries.iter_mut().for_each(|e| e.visible = !all);
            }
            KeyCode::Char('o') => {
                let selected = self.selected;
                for (i, e) in self.entries.iter_mut().enumerate() {
                    e.visible = i == selected;
                }
            }
            KeyCode::Char('g') => {
                self.grouped = !self.grouped;
                self.regroup();
            }
            KeyCode::Char(']') => self.param += 1,
            KeyCode::Char('[') => self.param = self.param.saturating_sub(1),
            KeyCode::Tab => {
                self.focus = match self.focus {
                    Focus::Legend => Focus::Weights,
                    Focus::Weights => Focus::Legend,
                }
            }
            KeyCode::Char('l') => self.log_scale = !self.log_scale,
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.smoothing = (self.smoothing + 1).min(SMOOTHING.len() - 1)
            }
            KeyCode::Char('-') => self.smoothing = self.smoothing.saturating_sub(1),
            _ => {}
        }
        let params = self
            .selected_run()
            .and_then(|r| r.histograms.last())
            .map_or(0, |(_, h)| h.len());
        self.param = self.param.min(params.saturating_sub(1));
    }
}

/// Each key by its last component (`lr` for `train.optimizer.lr`) where
/// that names it alone among `keys`, else in full.
fn short_names(keys: &[String]) -> Vec<String> {
    let last = |k: &str| k.rsplit('.').next().unwrap_or(k).to_string();
    keys.iter()
        .map(|k| {
            let l = last(k);
            if keys.iter().filter(|o| last(o) == l).count() == 1 {
                l
            } else {
                k.clone()
            }
        })
        .collect()
}

/// A seed group's curve: at each x the members share, the mean, the
/// minimum and the maximum of their values.
pub fn band(members: &[&Points]) -> (Points, Points, Points) {
    let mut at: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
    for points in members {
        for &(x, y) in points.iter() {
            if y.is_finite() {
                // Steps are whole numbers; the key keeps them ordered.
                at.entry((x * 1000.0).round() as i64)
                    .or_insert((x, Vec::new()))
                    .1
                    .push(y);
            }
        }
    }
    let (mut mean, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
    for (x, ys) in at.into_values() {
        let m = ys.iter().sum::<f64>() / ys.len() as f64;
        mean.push((x, m));
        lo.push((x, ys.iter().copied().fold(f64::INFINITY, f64::min)));
        hi.push((x, ys.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
    }
    (mean, lo, hi)
}
