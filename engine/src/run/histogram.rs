//! Weight distributions for the dashboard.

use super::events::Histogram;

pub const BINS: usize = 24;

pub fn of(name: &str, values: &[f32]) -> Histogram {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let (min, max) = match (sorted.first(), sorted.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => (0.0, 0.0),
    };
    let mut counts = vec![0u32; BINS];
    let width = (max - min).max(f32::MIN_POSITIVE);
    for v in &sorted {
        let b = (((v - min) / width) * BINS as f32) as usize;
        counts[b.min(BINS - 1)] += 1;
    }
    let pct = |q: f32| -> f32 {
        if sorted.is_empty() {
            return 0.0;
        }
        sorted[((sorted.len() - 1) as f32 * q).round() as usize]
    };
    Histogram {
        name: name.to_string(),
        min,
        max,
        counts,
        percentiles: [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0].map(pct),
    }
}
