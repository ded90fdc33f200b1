//! A sweep on a terminal: the viewer's screen fed by the trials' events —
//! each trial in the legend with its status and monitored metric, every
//! trial's curves on one chart. `q` or Ctrl-C stops the sweep as SIGINT
//! does (every running trial checkpointed; `--resume` finishes it).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyEventKind};
use dlwb_engine::run::Event;
use ratatui::DefaultTerminal;

use super::record::SweepRecord;
use super::trials::sets;
use crate::dashboard::view::Look;
use crate::viewer::{draw, ViewRun, Viewer};

/// Redraws at most this often.
const FRAME: Duration = Duration::from_millis(100);

pub struct Live {
    viewer: Viewer,
    terminal: DefaultTerminal,
    look: Look,
    last_draw: Instant,
}

impl Live {
    /// The live screen for `record`'s trials, where both ends are a
    /// terminal; none otherwise (pipes, CI, `--json`).
    pub fn start(record: &SweepRecord, json: bool) -> Option<Live> {
        if json || !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            return None;
        }
        let runs = record
            .trials
            .iter()
            .map(|t| {
                let mut run = ViewRun::pending(
                    format!("trial {}: {}", t.trial, sets(&t.settings).join(" ")),
                    t.settings.clone(),
                );
                run.status = t.status.name().to_string();
                run.metrics = t.metrics.clone();
                run
            })
            .collect();
        let title = format!("sweep {}", record.experiment);
        let viewer = Viewer::new(title, runs, record.monitor.clone());
        Some(Live {
            viewer,
            terminal: ratatui::init(),
            look: Look::of_terminal(),
            last_draw: Instant::now() - FRAME,
        })
    }

    pub fn on_event(&mut self, trial: usize, event: &Event) {
        if let Some(run) = self.viewer.runs.get_mut(trial) {
            run.on_event(event);
        }
    }

    /// Keys, then a redraw when one is due; waits up to `wait` for a key.
    /// `q` or Ctrl-C sets `stop`.
    pub fn tick(&mut self, wait: Duration, stop: &AtomicBool) {
        if event::poll(wait).unwrap_or(false) {
            if let Ok(TermEvent::Key(k)) = event::read() {
                if k.kind == KeyEventKind::Press {
                    self.viewer.on_key(k);
                }
            }
        }
        if self.viewer.quit {
            stop.store(true, Ordering::SeqCst);
        }
        if self.last_draw.elapsed() >= FRAME {
            let (viewer, look) = (&self.viewer, self.look);
            let _ = self.terminal.draw(|f| draw::draw(f, viewer, look));
            self.last_draw = Instant::now();
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        ratatui::restore();
    }
}
