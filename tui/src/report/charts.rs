//! The report's SVG charts, drawn with plotters: one chart per curve kind
//! with every run overlaid, and one per parameter with its percentile
//! bands over the epochs.

use std::path::Path;

use plotters::prelude::*;

use crate::finished::FinishedRun;

/// A chart written: its file name (relative to the report) and title.
pub struct Chart {
    pub file: String,
    pub title: String,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One line of a chart.
struct Line<'a> {
    label: String,
    points: &'a [(f64, f64)],
    color: RGBColor,
    dashed: bool,
}

pub fn draw(runs: &[FinishedRun], dir: &Path) -> Result<Vec<Chart>, String> {
    let mut charts = Vec::new();
    for quantity in ["loss", "accuracy"] {
        let lines = curves(runs, quantity);
        if lines.is_empty() {
            continue;
        }
        let file = format!("{quantity}.svg");
        plot(&dir.join(&file), quantity, "step", &lines)?;
        charts.push(Chart {
            file,
            title: quantity.into(),
        });
    }
    // Bands of the first run's parameters.
    let Some(first) = runs.first() else {
        return Ok(charts);
    };
    let mut names: Vec<&str> = first.bands.iter().map(|b| b.name.as_str()).collect();
    names.dedup();
    names.sort();
    names.dedup();
    for name in names {
        let file = format!("weights-{}.svg", name.replace('.', "-"));
        bands(&dir.join(&file), first, name)?;
        charts.push(Chart {
            file,
            title: format!("{name} percentiles"),
        });
    }
    Ok(charts)
}

/// Training per step and validation per epoch of `quantity`, every run.
fn curves<'a>(runs: &'a [FinishedRun], quantity: &str) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let who = if runs.len() > 1 {
            format!("{} ", r.label())
        } else {
            String::new()
        };
        if let Some(p) = r.steps.get(&format!("train.{quantity}")) {
            lines.push(Line {
                label: format!("{who}train"),
                points: p,
                color,
                dashed: false,
            });
        }
        if let Some(p) = r.epochs.get(&format!("val.{quantity}")) {
            lines.push(Line {
                label: format!("{who}val"),
                points: p,
                color,
                dashed: true,
            });
        }
    }
    lines
}

fn range(values: impl Iterator<Item = f64> + Clone) -> std::ops::Range<f64> {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad)..(hi + pad)
}

fn svg_error(e: impl std::fmt::Display) -> String {
    format!("drawing a chart failed: {e}")
}

fn plot(path: &Path, title: &str, x_desc: &str, lines: &[Line<'_>]) -> Result<(), String> {
    let xs = range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)));
    let ys = range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let root = SVGBackend::new(path, (720, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(svg_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(xs, ys)
        .map_err(svg_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(title)
        .draw()
        .map_err(svg_error)?;
    for l in lines {
        let style = l.color.stroke_width(2);
        let series = if l.dashed {
            chart.draw_series(
                l.points
                    .iter()
                    .map(|&p| Circle::new(p, 4, l.color.filled())),
            )
        } else {
            chart.draw_series(LineSeries::new(l.points.iter().copied(), style))
        };
        let color = l.color;
        series
            .map_err(svg_error)?
            .label(l.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(svg_error)?;
    root.present().map_err(svg_error)
}

/// The 10–90 and 25–75 percentile bands and the median of one parameter.
fn bands(path: &Path, run: &FinishedRun, name: &str) -> Result<(), String> {
    let points: Vec<(f64, [f64; 5])> = run
        .bands
        .iter()
        .filter(|b| b.name == name)
        .map(|b| (b.step as f64, b.percentiles))
        .collect();
    let xs = range(points.iter().map(|p| p.0));
    let ys = range(points.iter().flat_map(|p| p.1));
    let root = SVGBackend::new(path, (720, 320)).into_drawing_area();
    root.fill(&WHITE).map_err(svg_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{name}: percentiles 10/25/50/75/90"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(xs, ys)
        .map_err(svg_error)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .draw()
        .map_err(svg_error)?;
    let color = COLORS[0];
    for (lo, hi, alpha) in [(0, 4, 0.2), (1, 3, 0.4)] {
        let mut outline: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1[hi])).collect();
        outline.extend(points.iter().rev().map(|p| (p.0, p.1[lo])));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(alpha).filled(),
            )))
            .map_err(svg_error)?;
    }
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (p.0, p.1[2])),
            color.stroke_width(2),
        ))
        .map_err(svg_error)?;
    root.present().map_err(svg_error)
}
