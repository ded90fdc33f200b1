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

/// One line or scatter of a chart.
#[derive(Debug, Clone)]
pub struct Curve {
    pub points: Vec<(f64, f64)>,
    pub color: Color,
    /// Joined as a line (else scattered points).
    pub line: bool,
}

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
    let owned = curves(app, width, pick, tr);
    let scale = if title.contains("log10") {
        Scale::Log10
    } else if title.contains("accuracy") {
        Scale::Fraction
    } else {
        Scale::Linear
    };
    // A vertical marker where each later run began.
    let markers: Vec<f64> = app.segments.iter().skip(1).map(|s| s.offset).collect();
    let frame = ChartFrame {
        title,
        focused,
        scale,
    };
    render(f, area, look, &frame, &owned, &markers);
}

/// A chart's frame: its title, focus and vertical scale.
pub struct ChartFrame<'a> {
    pub title: &'a str,
    pub focused: bool,
    pub scale: Scale,
}

/// Draws `curves` in `area`, with a vertical marker line at each x of
/// `markers`.
pub fn render(
    f: &mut Frame<'_>,
    area: Rect,
    look: Look,
    frame: &ChartFrame<'_>,
    curves: &[Curve],
    markers: &[f64],
) {
    let (x0, x1, y0, y1) = bounds(curves);
    let axis = y_axis(y0, y1, frame.scale);
    let (y0, y1) = (axis.lo, axis.hi);
    let markers: Vec<Vec<(f64, f64)>> = markers.iter().map(|&x| vec![(x, y0), (x, y1)]).collect();
    let marker = if look.braille {
        Marker::Braille
    } else {
        Marker::Dot
    };
    let mut datasets: Vec<Dataset<'_>> = curves
        .iter()
        .map(|c| {
            Dataset::default()
                .marker(if c.line { marker } else { Marker::Dot })
                .graph_type(if c.line {
                    GraphType::Line
                } else {
                    GraphType::Scatter
                })
                .style(look.fg(c.color))
                .data(&c.points)
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
    let chart = Chart::new(datasets)
        .block(look.block(frame.title.to_string(), frame.focused))
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .labels([Span::raw(format!("{x0:.0}")), Span::raw(format!("{x1:.0}"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([y0, y1])
                .labels(axis.labels.map(Span::raw)),
        );
    f.render_widget(chart, area);
}

/// Every run's training curve (smoothed, decimated to the width) and
/// validation points, the current run's in colour and earlier ones dimmed.
fn curves(
    app: &App,
    width: usize,
    pick: impl Fn(&crate::dashboard::app::Segment) -> Series<'_>,
    tr: impl Fn(f64) -> f64,
) -> Vec<Curve> {
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
        owned.push(Curve {
            points: decimate(&train, width * 2),
            color: if current {
                Color::Cyan
            } else {
                Color::DarkGray
            },
            line: true,
        });
        owned.push(Curve {
            points: val.iter().map(|&(x, y)| (x, tr(y))).collect(),
            color: if current { Color::Yellow } else { Color::Gray },
            line: false,
        });
    }
    owned
}

/// The extent of the curves' finite points; a unit square when none.
fn bounds(curves: &[Curve]) -> (f64, f64, f64, f64) {
    let points = curves.iter().flat_map(|c| c.points.iter());
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
    (x0, x1, y0, y1)
}

/// How a chart's values map to its vertical axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Losses: not below zero.
    Linear,
    /// Accuracies: within 0 and 1.
    Fraction,
    /// Values already in log10, shown between whole decades.
    Log10,
}

/// A vertical axis: its bounds and the labels at them, in the values'
/// own units (a log axis labels `10^lo`, not `lo`).
#[derive(Debug, Clone, PartialEq)]
pub struct YAxis {
    pub lo: f64,
    pub hi: f64,
    pub labels: [String; 2],
}

/// The axis for values from `lo` to `hi` on `scale`.
pub fn y_axis(lo: f64, hi: f64, scale: Scale) -> YAxis {
    if scale == Scale::Log10 {
        let lo = lo.floor();
        let hi = hi.ceil().max(lo + 1.0);
        return YAxis {
            lo,
            hi,
            labels: [label(10f64.powf(lo)), label(10f64.powf(hi))],
        };
    }
    // A flat curve gets a narrow band around it, not a unit above it.
    let pad = if hi - lo < 1e-9 {
        (lo.abs() * 0.05).max(0.01)
    } else {
        (hi - lo) * 0.05
    };
    // Padding stops at the limits the values keep to: losses are not
    // negative, accuracies not above 1.
    let (floor, ceiling) = match scale {
        Scale::Fraction => (0.0, 1.0),
        _ => (0.0, f64::INFINITY),
    };
    let lo = if lo >= floor {
        (lo - pad).max(floor)
    } else {
        lo - pad
    };
    let hi = if hi <= ceiling {
        (hi + pad).min(ceiling)
    } else {
        hi + pad
    };
    YAxis {
        lo,
        hi,
        labels: [label(lo), label(hi)],
    }
}

/// A value as an axis label: three decimals, or three significant digits
/// for values too small for them.
fn label(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
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
