//! CSV files: a header row, named numeric feature columns, and a label
//! column of numbers or strings (strings become class indices in sorted
//! order; the mapping is kept with the run).

use std::collections::BTreeSet;
use std::path::Path;

use super::DataError;
use crate::data::dataset::Samples;

#[derive(Debug)]
pub struct Table {
    pub samples: Samples,
    /// The class of each index, as written in the file.
    pub class_names: Vec<String>,
}

pub fn load(
    path: &Path,
    features: &[String],
    label: &str,
    classes: Option<usize>,
) -> Result<Table, DataError> {
    let (mut reader, header) = open(path)?;
    let feature_cols = columns(path, &header, features)?;
    let label_col = columns(path, &header, &[label.to_string()])?[0];
    let mut x = Vec::new();
    let mut raw_labels = Vec::new();
    for (row, record) in reader.records().enumerate() {
        // Row numbers as a person counts lines: the header is line 1.
        let line = row + 2;
        let record = record.map_err(|e| csv_error(path, e))?;
        push_features(path, line, &record, (&feature_cols, features), &mut x)?;
        raw_labels.push((line, record[label_col].to_string()));
    }
    if raw_labels.is_empty() {
        return Err(DataError::format(path, "no data rows after the header"));
    }

    let (labels, class_names) = class_indices(&raw_labels, classes);
    let n_classes = classes.unwrap_or(class_names.len());
    if let Some((i, _)) = labels
        .iter()
        .enumerate()
        .find(|(_, l)| **l as usize >= n_classes)
    {
        return Err(DataError::format(
            path,
            format!(
                "row {}, column \"{label}\": label {} is outside the {n_classes} classes",
                raw_labels[i].0, raw_labels[i].1
            ),
        ));
    }
    if n_classes < 2 {
        return Err(DataError::format(
            path,
            format!("column \"{label}\" holds only one class"),
        ));
    }
    Ok(Table {
        samples: Samples::Features {
            x,
            labels,
            dim: features.len(),
        },
        class_names,
    })
}

/// A CSV file with a header: its reader, and the header's names.
fn open(path: &Path) -> Result<(csv::Reader<std::fs::File>, Vec<String>), DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let header = reader
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(str::to_string)
        .collect();
    Ok((reader, header))
}

/// The positions of the columns `names` in `header`, or which it has.
fn columns(path: &Path, header: &[String], names: &[String]) -> Result<Vec<usize>, DataError> {
    names
        .iter()
        .map(|name| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                DataError::format(
                    path,
                    format!(
                        "no column named \"{name}\"; the header has: {}",
                        header.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// A row's feature cells, in `features` order, onto `x`.
fn push_features(
    path: &Path,
    line: usize,
    record: &csv::StringRecord,
    (cols, features): (&[usize], &[String]),
    x: &mut Vec<f32>,
) -> Result<(), DataError> {
    for (&c, name) in cols.iter().zip(features) {
        x.push(number(path, line, name, &record[c])?);
    }
    Ok(())
}

/// Every row's `features` values, in order: the inputs of a file to
/// predict on (no label column needed).
pub fn features(path: &Path, features: &[String]) -> Result<Vec<f32>, DataError> {
    let (mut reader, header) = open(path)?;
    let cols = columns(path, &header, features)?;
    let mut x = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        push_features(path, row + 2, &record, (&cols, features), &mut x)?;
    }
    Ok(x)
}

/// A feature's cell as a finite number, or why not.
fn number(path: &Path, line: usize, name: &str, cell: &str) -> Result<f32, DataError> {
    let v: f32 = cell.parse().map_err(|_| {
        DataError::format(
            path,
            format!("row {line}, column \"{name}\": \"{cell}\" is not a number"),
        )
    })?;
    if !v.is_finite() {
        return Err(DataError::format(
            path,
            format!("row {line}, column \"{name}\": {cell} is not a finite number"),
        ));
    }
    Ok(v)
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let position = e.position().map(|p| format!("row {}: ", p.line()));
    match e.into_kind() {
        csv::ErrorKind::Io(io) => DataError::io(path, io),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => DataError::format(
            path,
            format!(
                "row {}: {len} fields, but the header has {expected_len}",
                pos.map_or(0, |p| p.line())
            ),
        ),
        csv::ErrorKind::Utf8 { pos, .. } => DataError::format(
            path,
            format!("row {}: not UTF-8 text", pos.map_or(0, |p| p.line())),
        ),
        other => DataError::format(path, format!("{}{other:?}", position.unwrap_or_default())),
    }
}

/// Labels as class indices, and the classes' names in index order. Whole
/// non-negative numbers are class indices as they are; anything else names
/// classes, numbered in sorted order.
fn class_indices(raw: &[(usize, String)], classes: Option<usize>) -> (Vec<u32>, Vec<String>) {
    if raw.iter().all(|(_, l)| l.parse::<u32>().is_ok()) {
        let labels: Vec<u32> = raw.iter().map(|(_, l)| l.parse().unwrap()).collect();
        let n = classes.unwrap_or(*labels.iter().max().unwrap() as usize + 1);
        return (labels, (0..n).map(|i| i.to_string()).collect());
    }
    let names: Vec<String> = raw
        .iter()
        .map(|(_, l)| l.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = raw
        .iter()
        .map(|(_, l)| names.binary_search(l).unwrap() as u32)
        .collect();
    (labels, names)
}
