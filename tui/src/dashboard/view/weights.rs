//! The selected parameter's weights: its histogram now, and its
//! distribution over time as percentile bands (as TensorBoard shows them).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Bar, BarChart, BarGroup, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::Look;
use crate::dashboard::app::{App, Panel};
use dlwb_engine::run::events::Histogram;

pub fn draw(f: &mut Frame<'_>, area: Rect, app: &App, look: Look) {
    let shown = Shown {
        histograms: &app.histograms,
        selected: app.selected,
        focused: app.focus == Panel::Weights,
    };
    draw_histograms(f, area, &shown, look);
}

/// What the weights panel shows: histogram events `(epoch, params)`, the
/// selected parameter's index, and whether the panel has focus.
pub struct Shown<'a> {
    pub histograms: &'a [(usize, Vec<Histogram>)],
    pub selected: usize,
    pub focused: bool,
}

pub fn draw_histograms(f: &mut Frame<'_>, area: Rect, shown: &Shown<'_>, look: Look) {
    let names: Vec<&str> = shown
        .histograms
        .last()
        .map(|(_, h)| h.iter().map(|h| h.name.as_str()).collect())
        .unwrap_or_default();
    let name = names.get(shown.selected).copied().unwrap_or("");
    let title = format!(
        " weights: {name} ({}/{}) [ ] ",
        shown.selected + 1,
        names.len()
    );
    let block = look.block(title, shown.focused);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some((_, latest)) = shown.histograms.last() else {
        f.render_widget(
            Paragraph::new("weights appear after the first epoch"),
            inner,
        );
        return;
    };
    let Some(h) = latest.get(shown.selected) else {
        return;
    };
    let [hist, bands] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    histogram(f, hist, h, look);
    percentile_bands(f, bands, shown.histograms, &h.name, look);
}

/// The latest histogram of one parameter, its range above it.
fn histogram(f: &mut Frame<'_>, hist: Rect, h: &Histogram, look: Look) {
    let bars: Vec<Bar<'_>> = h
        .counts
        .iter()
        .map(|c| Bar::default().value(*c as u64).text_value(String::new()))
        .collect();
    let bar_width = (hist.width / h.counts.len().max(1) as u16).max(1);
    let [label, hist] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(hist);
    f.render_widget(
        Paragraph::new(format!("{:.3} … {:.3}", h.min, h.max)),
        label,
    );
    f.render_widget(
        BarChart::default()
            .data(BarGroup::default().bars(&bars))
            .bar_width(bar_width)
            .bar_gap(0)
            .bar_style(look.fg(Color::Cyan)),
        hist,
    );
}

/// Seven percentile lines of one parameter over the histogram events.
fn percentile_bands(
    f: &mut Frame<'_>,
    bands: Rect,
    histograms: &[(usize, Vec<Histogram>)],
    name: &str,
    look: Look,
) {
    let lines: Vec<Vec<(f64, f64)>> = (0..7)
        .map(|q| {
            histograms
                .iter()
                .filter_map(|(epoch, hs)| {
                    hs.iter()
                        .find(|x| x.name == name)
                        .map(|x| ((epoch + 1) as f64, x.percentiles[q] as f64))
                })
                .collect()
        })
        .collect();
    let (lo, hi) = lines
        .iter()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(a, b), &(_, y)| (a.min(y), b.max(y)));
    let (lo, hi) = if lo > hi {
        (-1.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let xmax = histograms.len().max(2) as f64;
    let colors = [
        Color::DarkGray,
        Color::Gray,
        Color::Blue,
        Color::Cyan,
        Color::Blue,
        Color::Gray,
        Color::DarkGray,
    ];
    let marker = if look.braille {
        Marker::Braille
    } else {
        Marker::Dot
    };
    let datasets: Vec<Dataset<'_>> = lines
        .iter()
        .zip(colors)
        .map(|(d, c)| {
            Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(look.fg(c))
                .data(d)
        })
        .collect();
    f.render_widget(
        Chart::new(datasets)
            .x_axis(
                Axis::default()
                    .bounds([1.0, xmax])
                    .labels([Span::raw("epoch 1"), Span::raw(format!("{xmax:.0}"))]),
            )
            .y_axis(
                Axis::default()
                    .bounds([lo, hi])
                    .labels([Span::raw(format!("{lo:.2}")), Span::raw(format!("{hi:.2}"))]),
            ),
        bands,
    );
}
