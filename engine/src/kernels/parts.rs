//! A batch cut into parts, one per thread, for kernels whose rows never
//! meet (a convolution's samples, a recurrent layer's sequences): one fork
//! per layer call instead of one per matrix product.

use super::matmul::threads;

/// How many rows each part of a batch of `batch` holds: one part per
/// thread, none smaller than `min_rows` (fewer parts instead).
pub fn rows(batch: usize, min_rows: usize) -> Vec<usize> {
    let parts = threads().min(batch / min_rows.max(1)).max(1);
    (0..parts)
        .map(|p| batch / parts + usize::from(p < batch % parts))
        .collect()
}

/// The first row of each part.
pub fn starts(rows: &[usize]) -> Vec<usize> {
    rows.iter()
        .scan(0, |next, r| {
            let first = *next;
            *next += r;
            Some(first)
        })
        .collect()
}

/// Splits `data` into consecutive chunks of `rows[i] * width` values.
pub fn chunks_mut<'a, T>(mut data: &'a mut [T], rows: &[usize], width: usize) -> Vec<&'a mut [T]> {
    rows.iter()
        .map(|r| {
            let (head, tail) = std::mem::take(&mut data).split_at_mut(r * width);
            data = tail;
            head
        })
        .collect()
}

/// Consecutive read-only chunks, as [`chunks_mut`].
pub fn chunks<'a, T>(mut data: &'a [T], rows: &[usize], width: usize) -> Vec<&'a [T]> {
    rows.iter()
        .map(|r| {
            let (head, tail) = data.split_at(r * width);
            data = tail;
            head
        })
        .collect()
}

/// [`chunks_mut`] of an optional buffer: `None` for every part if absent.
pub fn optional_chunks_mut<'a, T>(
    data: Option<&'a mut [T]>,
    rows: &[usize],
    width: usize,
) -> Vec<Option<&'a mut [T]>> {
    match data {
        Some(d) => chunks_mut(d, rows, width).into_iter().map(Some).collect(),
        None => rows.iter().map(|_| None).collect(),
    }
}

/// Adds `part` into `total`, element by element.
pub fn add_into(total: &mut [f32], part: &[f32]) {
    total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
}
