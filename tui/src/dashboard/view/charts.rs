//! Loss and accuracy over steps: training (smoothed) and validation on one
//! axis, earlier runs dimmed, and a marker at each reload.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
use ratatui::Frame;

use super::Look;
use crate::dashboard::app::{App, Panel, SMOOTHING};

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    let [loss, acc] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let focused = app.focus == Panel::Charts;
    let title = format!(
        " loss{} · smoothing {:.2} · train ─ val ● ",
        if app.log_scale { " (log10)" } else { "" },
        SMOOTHING[app.smoothing]
    );
    let tr = |p: f64| {
        if app.log_scale {
            p.max(1e-12).log10()
        } else {
            p
        }
    };
    chart(
        f,
        loss,
        app,
        look,
        &title,
        focused,
        |s| (&s.train_loss, &s.val_loss),
        tr,
    );
    chart(
        f,
        acc,
        app,
        look,
        " accuracy · train ─ val ● ",
        focused,
        |s| (&s.train_acc, &s.val_acc),
        |p| p,
    );
}

/// Points, their colour, and whether they join as a line (else scatter).
type Curve = (Vec<(f64, f64)>, Color, bool);

type Series<'a> = (&'a Vec<(f64, f64)>, &'a Vec<(f64, f64)>);

#[allow(clippy::too_many_arguments)]
fn chart(
    f: &mut Frame<'_>,
    area: Rect,
    app: &App,
    look: Look,
    title: &str,
    focused: bool,
    pick: impl Fn(&crate::dashboard::app::Segment) -> Series<'_>,
    tr: impl Fn(f64) -> f64,
) {
    let width = area.width.saturating_sub(10).max(8) as usize;
    let alpha = SMOOTHING[app.smoothing];
    let last = app.segments.len().saturating_sub(1);
    let mut owned: Vec<Curve> = Vec::new();
    for (i, seg) in app.segments.iter().enumerate() {
        let (train, val) = pick(seg);
        let current = i == last;
        let train: Vec<(f64, f64)> = ema(train, alpha)
            .into_iter()
            .map(|(x, y)| (x, tr(y)))
            .collect();
        owned.push((
            decimate(&train, width * 2),
            if current {
                Color::Cyan
            } else {
                Color::DarkGray
            },
            true,
        ));
        let val: Vec<(f64, f64)> = val.iter().map(|&(x, y)| (x, tr(y))).collect();
        owned.push((
            val,
            if current { Color::Yellow } else { Color::Gray },
            false,
        ));
    }
    let points = owned.iter().flat_map(|(d, ..)| d.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        if y.is_finite() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    // Losses and accuracies are not negative: do not pad below zero.
    let floor = if y0 >= 0.0 { 0.0 } else { f64::MIN };
    let (y0, y1) = ((y0 - pad).max(floor), y1 + pad);
    // A vertical marker where each later run began.
    let markers: Vec<Vec<(f64, f64)>> = app
        .segments
        .iter()
        .skip(1)
        .map(|s| vec![(s.offset, y0), (s.offset, y1)])
        .collect();
    let marker = if look.braille {
        Marker::Braille
    } else {
        Marker::Dot
    };
    let mut datasets: Vec<Dataset<'_>> = owned
        .iter()
        .map(|(data, color, line)| {
            Dataset::default()
                .marker(if *line { marker } else { Marker::Dot })
                .graph_type(if *line {
                    GraphType::Line
                } else {
                    GraphType::Scatter
                })
                .style(look.fg(*color))
                .data(data)
        })
        .collect();
    for m in &markers {
        datasets.push(
            Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(look.fg(Color::Magenta))
                .data(m),
        );
    }
    let fmt = |v: f64| -> String {
        if title.contains("log10") {
            format!("{:.3}", 10f64.powf(v))
        } else {
            format!("{v:.3}")
        }
    };
    let chart = Chart::new(datasets)
        .block(look.block(title.to_string(), focused))
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .labels([Span::raw(format!("{x0:.0}")), Span::raw(format!("{x1:.0}"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([y0, y1])
                .labels([Span::raw(fmt(y0)), Span::raw(fmt(y1))]),
        );
    f.render_widget(chart, area);
}

/// Exponential moving average, bias-corrected so the start is not dragged
/// toward zero.
pub fn ema(points: &[(f64, f64)], alpha: f64) -> Vec<(f64, f64)> {
    let mut s = 0.0;
    let mut w = 0.0;
    points
        .iter()
        .map(|&(x, y)| {
            s = alpha * s + (1.0 - alpha) * y;
            w = alpha * w + (1.0 - alpha);
            (x, s / w)
        })
        .collect()
}

/// At most `buckets * 2` points: each bucket keeps its minimum and its
/// maximum in x order, so spikes survive on long runs.
pub fn decimate(points: &[(f64, f64)], buckets: usize) -> Vec<(f64, f64)> {
    if points.len() <= buckets * 2 || buckets == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(buckets * 2);
    for chunk in points.chunks(per) {
        let min = chunk.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        let max = chunk.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        if min.0 <= max.0 {
            out.extend([*min, *max]);
        } else {
            out.extend([*max, *min]);
        }
    }
    out
}
