//! The model summary, the log with the last bad edit's diagnostics, and
//! generated text.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Table, Wrap};
use ratatui::Frame;

use super::Look;
use crate::dashboard::app::{App, LogKind, Panel};

pub fn model(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    let rows = app.layers.iter().map(|l| {
        Row::new(vec![
            l.name.clone(),
            l.kind.clone(),
            l.output.clone(),
            dlwb_dsl::summary::grouped(l.params as u64),
        ])
    });
    let title = format!(
        " model · {} parameters ",
        dlwb_dsl::summary::grouped(app.params as u64)
    );
    let table = Table::new(
        rows,
        [
            Constraint::Percentage(34),
            Constraint::Percentage(22),
            Constraint::Percentage(24),
            Constraint::Percentage(20),
        ],
    )
    .header(
        Row::new(vec!["layer", "kind", "output", "params"])
            .style(look.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
    )
    .block(look.block(title, app.focus == Panel::Model));
    f.render_widget(table, area);
}

pub fn log(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    let room = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'_>> = app
        .diagnostics
        .iter()
        .map(|d| Line::styled(d.clone(), look.fg(Color::Red)))
        .collect();
    if let Some(r) = &app.last_reload {
        lines.push(Line::styled(r.clone(), look.fg(Color::Magenta)));
    }
    let keep = room.saturating_sub(lines.len());
    let start = app.log.len().saturating_sub(keep);
    for (kind, text) in &app.log[start..] {
        let color = match kind {
            LogKind::Info => Color::Reset,
            LogKind::Error => Color::Red,
            LogKind::Reload => Color::Magenta,
        };
        lines.push(Line::styled(text.clone(), look.fg(color)));
    }
    let title = if app.diagnostics.is_empty() {
        " log "
    } else {
        " log · the file does not check "
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(look.block(title, app.focus == Panel::Log)),
        area,
    );
}

/// Each compression step's figures, before and after.
pub fn compression_lines(reports: &[dlwb_engine::run::Report]) -> Vec<String> {
    let acc = |a: Option<f64>| a.map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
    let mut out = vec![format!(
        "{:<26} {:>9} {:>9} {:>10} {:>8} {:>10}  kernel",
        "step", "params", "nonzero", "bytes", "acc", "samples/s"
    )];
    for r in reports {
        out.push(r.step.clone());
        for (when, f) in [("  before", &r.before), ("  after", &r.after)] {
            out.push(format!(
                "{when:<26} {:>9} {:>9} {:>10} {:>8} {:>10.0}  {}",
                f.params,
                f.nonzero,
                f.bytes,
                acc(f.accuracy),
                f.samples_per_s,
                f.kernel
            ));
        }
    }
    out
}

pub fn sample(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    if !app.compression.is_empty() {
        let text = compression_lines(&app.compression).join("\n");
        f.render_widget(
            Paragraph::new(text).block(look.block(" compression ", false)),
            area,
        );
        return;
    }
    let text = app.sample.clone().unwrap_or_else(|| {
        if app.metrics.is_empty() {
            "generated text appears here for character models".into()
        } else {
            app.metrics
                .iter()
                .map(|(k, v)| format!("{k:<16} {v:.4}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    });
    let title = if app.sample.is_some() {
        " sample "
    } else {
        " metrics "
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(look.block(title, false)),
        area,
    );
}
