//! Drawing `dlwb view` from a [`Viewer`]; nothing here changes state.
//!
//! ```text
//! ┌ dlwb view · 4 runs in 2 entries · seeds grouped ──────────────────────┐
//! ├ loss ─────────────────────────────────┬ runs ────────────────────────┤
//! │ every shown entry in its colour; a    │ [x] sw/2026-…  val.loss 0.41 │
//! │ seed group's mean, min–max band dim   │ [ ] sw/2026-…  val.loss 0.52 │
//! ├ accuracy ─────────────────────────────┼ weights: dense1.weight ──────┤
//! │                                       │ the selected run's histogram │
//! └ keys ─────────────────────────────────┴──────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::state::{band, Focus, Quantity, Viewer};
use crate::dashboard::view::charts::{self, ChartFrame, Curve, Scale};
use crate::dashboard::view::weights::{self, Shown};
use crate::dashboard::view::{decimate, ema, Look};

pub fn draw(f: &mut Frame<'_>, v: &Viewer, look: Look) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let grouping = if v.grouped {
        "seeds grouped (g: each run)"
    } else {
        "each run (g: group seeds)"
    };
    let mut statuses: Vec<(&str, usize)> = Vec::new();
    for r in &v.runs {
        match statuses.iter_mut().find(|(s, _)| *s == r.status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((&r.status, 1)),
        }
    }
    let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} {s}")).collect();
    f.render_widget(
        Paragraph::new(format!(
            " dlwb {} · {} runs ({}) in {} entries · {grouping}",
            v.title,
            v.runs.len(),
            statuses.join(", "),
            v.entries.len()
        ))
        .style(look.fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        head,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
    let [loss, acc] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
    chart(f, loss, v, look, Quantity::Loss);
    chart(f, acc, v, look, Quantity::Accuracy);
    let [legend_area, weights_area] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(right);
    legend(f, legend_area, v, look);
    let empty = Vec::new();
    let shown = Shown {
        histograms: v.selected_run().map_or(&empty, |r| &r.histograms),
        selected: v.param,
        focused: v.focus == Focus::Weights,
    };
    weights::draw_histograms(f, weights_area, &shown, look);
    f.render_widget(
        Paragraph::new(
            " ↑↓ select · space show/hide · o only this · a all · g seeds · [ ] weights · l log · +- smoothing · ? keys · q quit",
        )
        .style(look.fg(Color::DarkGray)),
        foot,
    );
    if v.help {
        help(f, f.area(), look);
    }
}

/// Every shown entry's curves of `q`: a run's training curve (smoothed)
/// and validation points; a seed group's mean with its min–max band.
fn curves(v: &Viewer, q: Quantity, width: usize) -> Vec<Curve> {
    let tr = |y: f64| {
        if v.log_scale && q == Quantity::Loss {
            y.max(1e-12).log10()
        } else {
            y
        }
    };
    let map = |p: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        decimate(
            &p.into_iter().map(|(x, y)| (x, tr(y))).collect::<Vec<_>>(),
            width,
        )
    };
    let mut out = Vec::new();
    for e in v.entries.iter().filter(|e| e.visible) {
        let runs: Vec<_> = e.members.iter().map(|&i| &v.runs[i].curves).collect();
        let train: Vec<_> = runs.iter().map(|c| c.of(q).0).collect();
        let val: Vec<_> = runs.iter().map(|c| c.of(q).1).collect();
        let (train, train_lo, train_hi) = band(&train);
        let (val, ..) = band(&val);
        if e.members.len() > 1 {
            for edge in [train_lo, train_hi] {
                out.push(line(map(ema(&edge, v.alpha())), e.band));
            }
        }
        out.push(line(map(ema(&train, v.alpha())), e.color));
        out.push(Curve {
            points: val.into_iter().map(|(x, y)| (x, tr(y))).collect(),
            color: e.color,
            line: false,
        });
    }
    out
}

fn line(points: Vec<(f64, f64)>, color: Color) -> Curve {
    Curve {
        points,
        color,
        line: true,
    }
}

fn chart(f: &mut Frame<'_>, area: Rect, v: &Viewer, look: Look, q: Quantity) {
    let width = area.width.saturating_sub(10).max(8) as usize;
    let (title, scale) = match q {
        Quantity::Loss if v.log_scale => (" loss (log10) · train ─ val ● ", Scale::Log10),
        Quantity::Loss => (" loss · train ─ val ● ", Scale::Linear),
        Quantity::Accuracy => (" accuracy · train ─ val ● ", Scale::Fraction),
    };
    let frame = ChartFrame {
        title,
        focused: false,
        scale,
    };
    charts::render(f, area, look, &frame, &curves(v, q, width), &[]);
}

/// The legend: each entry in its colour, shown or hidden, and below it
/// its status and monitored metric (a seed group's mean).
fn legend(f: &mut Frame<'_>, area: Rect, v: &Viewer, look: Look) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    for (i, e) in v.entries.iter().enumerate() {
        let values: Vec<f64> = e
            .members
            .iter()
            .filter_map(|&m| v.runs[m].metrics.get(&v.monitor).copied())
            .collect();
        let metric = if values.is_empty() {
            String::new()
        } else {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            format!("{} {mean:.4} · ", v.monitor)
        };
        let mark = if e.visible { "[x]" } else { "[ ]" };
        let mut style = look.fg(e.color);
        if i == v.selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        if !e.visible {
            style = style.add_modifier(Modifier::DIM);
        }
        lines.push(Line::from(Span::styled(
            format!("{mark} ■ {}", e.label),
            style,
        )));
        let mut status: Vec<&str> = e
            .members
            .iter()
            .map(|&m| v.runs[m].status.as_str())
            .collect();
        status.dedup();
        lines.push(Line::from(format!("      {metric}{}", status.join("+"))));
    }
    let rows = area.height.saturating_sub(2) as usize;
    let offset = (v.selected * 2 + 2).saturating_sub(rows) as u16;
    f.render_widget(
        Paragraph::new(lines)
            .scroll((offset, 0))
            .block(look.block(" runs ", v.focus == Focus::Legend)),
        area,
    );
}

const KEYS: [(&str, &str); 10] = [
    ("↑ ↓", "select an entry (j k too)"),
    ("space", "show or hide the selected entry"),
    ("o", "show only the selected entry"),
    ("a", "show all (or none)"),
    ("g", "group runs that differ only in seed, or not"),
    ("[ ]", "previous or next parameter's weights"),
    ("tab", "move focus between the legend and the weights"),
    ("l", "log scale for the loss"),
    ("+ -", "more or less smoothing"),
    ("q", "quit"),
];

fn help(f: &mut Frame<'_>, area: Rect, look: Look) {
    crate::dashboard::view::keys_popup(f, area, look, &KEYS);
}
