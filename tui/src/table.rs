//! What the commands that list runs (`runs`, `sweep`, `report`) share:
//! which settings differ between runs, columns padded to their widths,
//! best-first order by a metric, and a run folder's short name.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The settings whose values are not the same in every one of `all`
/// (a setting some lack counts as differing).
pub fn differing<'a>(all: impl IntoIterator<Item = &'a BTreeMap<String, String>>) -> Vec<String> {
    let all: Vec<&BTreeMap<String, String>> = all.into_iter().collect();
    let keys: BTreeSet<&String> = all.iter().flat_map(|s| s.keys()).collect();
    keys.into_iter()
        .filter(|k| {
            let values: BTreeSet<Option<&String>> = all.iter().map(|s| s.get(*k)).collect();
            values.len() > 1
        })
        .cloned()
        .collect()
}

/// Each row's cells padded to their column's width, two spaces apart.
pub fn aligned(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// The order of two values of a metric, best first (lowest when
/// `minimize`); a missing value after every present one.
pub fn best_first(a: Option<f64>, b: Option<f64>, minimize: bool) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) if minimize => x.total_cmp(&y),
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// How many goals were met: `2/3 met`, or nothing without goals.
pub fn verdicts(met: usize, goals: usize) -> String {
    if goals == 0 {
        String::new()
    } else {
        format!("{met}/{goals} met")
    }
}

/// A run folder's last two parts (`EXPERIMENT/TIMESTAMP`), which name it
/// whatever folder the path was given from.
pub fn label(dir: &Path) -> String {
    let mut parts: Vec<String> = dir
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.reverse();
    parts.join("/")
}
