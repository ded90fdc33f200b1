//! A batch cut into parts, one per thread, for kernels whose rows never
//! meet (a convolution's samples, a recurrent layer's sequences): one fork
//! per layer call instead of one per matrix product.

use std::mem::MaybeUninit;

use super::matmul::threads;
use super::workers;

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

/// A new buffer of `rows` parts of `width` values each, every part's chunk
/// zeroed and then written by `fill(job, chunk)` on its own thread. A
/// layer's output zeroed in one pass before the parts start (`vec![0.0;
/// n]`) is a serial memset over megabytes, which cost LeNet's 2-thread
/// inference about a sixth of its time.
/// Any element type zeroes as its default (`0.0`, `0`).
pub fn filled<T: Copy + Default + Send, J: Send>(
    rows: &[usize],
    width: usize,
    jobs: Vec<J>,
    fill: impl Fn(J, &mut [T]) + Sync,
) -> Vec<T> {
    assert_eq!(jobs.len(), rows.len(), "a job per part");
    let len = rows.iter().sum::<usize>() * width;
    let mut out = Vec::<T>::with_capacity(len);
    let chunks = chunks_mut(&mut out.spare_capacity_mut()[..len], rows, width);
    workers::each(chunks.into_iter().zip(jobs).collect(), |(chunk, job)| {
        chunk.fill(MaybeUninit::new(T::default()));
        // SAFETY: every element of the chunk was just written.
        let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T]) };
        fill(job, chunk);
    });
    // SAFETY: the chunks cover `0..len` (their rows sum to `len / width`),
    // and each part wrote its chunk in full before `each` returned.
    unsafe { out.set_len(len) };
    out
}

/// Adds `part` into `total`, element by element.
pub fn add_into(total: &mut [f32], part: &[f32]) {
    total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
}
