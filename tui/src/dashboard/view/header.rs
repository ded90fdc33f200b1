//! The header: what runs, where it stands, and a progress gauge.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use ratatui::Frame;

use super::Look;
use crate::dashboard::app::{App, RunState};
use crate::format::{clock, si};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    let block = look.block(" dlwb ", false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [top, gauge] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let status_color = match app.state {
        RunState::Running => Color::Green,
        RunState::Paused | RunState::Reloading => Color::Yellow,
        RunState::Failed(..) => Color::Red,
        _ => Color::Cyan,
    };
    // Narrow terminals drop the file name and shorten the figures.
    let wide = area.width >= 110;
    let name = if wide {
        format!("{} · {} · ", app.experiment, app.file.display())
    } else {
        format!("{} · ", app.experiment)
    };
    let figures = if wide {
        format!(
            " · {}×{} · epoch {}/{} step {}/{} · {} samples/s · eta {}",
            app.device,
            app.threads,
            (app.epoch + 1).min(app.epochs.max(1)),
            app.epochs,
            app.step,
            app.steps_per_epoch,
            si(app.samples_per_s),
            clock(app.eta_s)
        )
    } else {
        format!(
            " · ep {}/{} {}/{} · {}/s · eta {}",
            (app.epoch + 1).min(app.epochs.max(1)),
            app.epochs,
            app.step,
            app.steps_per_epoch,
            si(app.samples_per_s),
            clock(app.eta_s)
        )
    };
    let line = Line::from(vec![
        Span::raw(name),
        Span::styled(app.state.label(), look.fg(status_color)),
        Span::styled(
            if app.reloads > 0 {
                format!(" (reloaded ×{})", app.reloads)
            } else {
                String::new()
            },
            look.fg(Color::Magenta),
        ),
        Span::raw(figures),
    ]);
    f.render_widget(Paragraph::new(line), top);
    f.render_widget(
        Gauge::default()
            .ratio(app.progress())
            .gauge_style(look.fg(Color::Cyan))
            .label(format!("{:.0}%", 100.0 * app.progress())),
        gauge,
    );
}
