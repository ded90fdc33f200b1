//! Drawing the dashboard from an [`App`]; nothing here changes state.
//!
//! ```text
//! ┌ dlwb · experiment · file · status · device · epoch · samples/s · eta ┐
//! │ progress ████████████░░░░░░░░░░                                      │
//! ├ loss ─────────────────────────────────┬ model ───────────────────────┤
//! │ train and validation, earlier runs    │ layer  kind  shape  params   │
//! │ dimmed, a marker at each reload       │                              │
//! ├ accuracy ─────────────────────────────┼ weights: dense1.weight ──────┤
//! │                                       │ histogram, percentile bands  │
//! ├ log and diagnostics ──────────────────┴ sample ──────────────────────┤
//! └──────────────────────────────────────────────────────────────────────┘
//! ```
//! Below 100x30 the layout is compact: the charts and the log, with the
//! focused panel (tab) in place of the charts; `e` expands the focused
//! panel to the whole body.

pub mod charts;
mod header;
mod side;
pub mod weights;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

pub use charts::{decimate, ema};
pub use side::compression_lines;

use super::app::{App, Panel};

/// How things may look on this terminal.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub color: bool,
    pub braille: bool,
}

impl Look {
    /// What this terminal allows: colour unless `NO_COLOR`, braille dots
    /// unless the Linux console or a dumb terminal.
    pub fn of_terminal() -> Look {
        Look {
            color: crate::system::color_allowed(),
            braille: !matches!(std::env::var("TERM").as_deref(), Ok("linux") | Ok("dumb")),
        }
    }

    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn block<'a>(&self, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
        let b = Block::default().borders(Borders::ALL).title(title);
        if focused {
            b.border_style(self.fg(Color::Cyan).add_modifier(Modifier::BOLD))
        } else {
            b
        }
    }
}

pub fn draw(f: &mut Frame<'_>, app: &App, look: Look) {
    let area = f.area();
    let compact = area.width < 100 || area.height < 30;
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(6),
        Constraint::Length(if compact { 6 } else { 9 }),
    ])
    .areas(area);
    header::draw(f, head, app, look);
    if app.expanded {
        panel(f, body.union(foot), app, look, app.focus);
    } else if compact {
        let main = if app.focus == Panel::Log {
            Panel::Charts
        } else {
            app.focus
        };
        panel(f, body, app, look, main);
        side::log(f, foot, app, look);
    } else {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(body);
        charts::draw(f, left, app, look);
        let [model, weights] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(right);
        side::model(f, model, app, look);
        weights::draw(f, weights, app, look);
        let [log, sample] =
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)])
                .areas(foot);
        side::log(f, log, app, look);
        side::sample(f, sample, app, look);
    }
    if app.help {
        help(f, area, look);
    }
    if app.confirm_quit {
        confirm(f, area, look);
    }
}

fn panel(f: &mut Frame<'_>, area: Rect, app: &App, look: Look, p: Panel) {
    match p {
        Panel::Charts => charts::draw(f, area, app, look),
        Panel::Weights => weights::draw(f, area, app, look),
        Panel::Model => side::model(f, area, app, look),
        Panel::Log => side::log(f, area, app, look),
    }
}

pub const KEYS: [(&str, &str); 11] = [
    ("?", "this help"),
    ("q", "quit (asks while training; y confirms)"),
    ("space", "pause or resume"),
    ("r", "restart the run from the file"),
    ("s", "save a checkpoint"),
    ("tab", "move focus between panels"),
    ("[ ]", "previous or next layer's weights"),
    ("l", "log scale for the loss"),
    ("+ -", "more or less smoothing"),
    ("e", "expand the focused panel"),
    ("", "edit the .net file and save: the run reloads"),
];

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(f: &mut Frame<'_>, area: Rect, look: Look) {
    keys_popup(f, area, look, &KEYS);
}

/// A centred box listing `keys` with what each does.
pub fn keys_popup(f: &mut Frame<'_>, area: Rect, look: Look, keys: &[(&str, &str)]) {
    let lines: Vec<Line<'_>> = keys
        .iter()
        .map(|(k, v)| Line::from(format!("{k:>6}  {v}")))
        .collect();
    let r = centered(area, 60, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(look.block(" keys (any key closes) ", true)),
        r,
    );
}

fn confirm(f: &mut Frame<'_>, area: Rect, look: Look) {
    let r = centered(area, 46, 3);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new("Training is running. Quit? (y/n)").block(look.block(" quit ", true)),
        r,
    );
}
