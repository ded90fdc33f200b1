//! A batch cut into parts, one per thread, for kernels whose rows never
//! meet (a convolution's samples, a recurrent layer's sequences): one fork
//! per layer call instead of one per matrix product.

use std::mem::MaybeUninit;
use std::ops::Range;

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

/// Elements at least per thread in a pass over a parameter's elements:
/// zeroing its gradient, summing the parts of it, updating it, packing
/// it. One figure, so that every pass cuts a parameter where the others
/// do and a thread mostly touches the elements it touched last (on a VM
/// whose cores share no cache, reading what the other core wrote costs
/// twice what rereading one's own does).
pub const PARAMETER_SHARE: usize = 1 << 14;

/// Where a pass over a parameter of `len` elements is cut, one range per
/// thread: [`rows`] of at least [`PARAMETER_SHARE`].
pub fn parameter_ranges(len: usize) -> Vec<Range<usize>> {
    let rows = rows(len, PARAMETER_SHARE);
    starts(&rows)
        .into_iter()
        .zip(&rows)
        .map(|(s, r)| s..s + r)
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
    filled_with(rows, width, jobs, fill).0
}

/// [`filled`], keeping what each part's `fill` returns, in part order.
pub fn filled_with<T: Copy + Default + Send, J: Send, R: Send>(
    rows: &[usize],
    width: usize,
    jobs: Vec<J>,
    fill: impl Fn(J, &mut [T]) -> R + Sync,
) -> (Vec<T>, Vec<R>) {
    assert_eq!(jobs.len(), rows.len(), "a job per part");
    let len = rows.iter().sum::<usize>() * width;
    let mut out = Vec::<T>::with_capacity(len);
    let chunks = chunks_mut(&mut out.spare_capacity_mut()[..len], rows, width);
    let results = workers::map(chunks.into_iter().zip(jobs).collect(), |(chunk, job)| {
        chunk.fill(MaybeUninit::new(T::default()));
        // SAFETY: every element of the chunk was just written.
        let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T]) };
        fill(job, chunk)
    });
    // SAFETY: the chunks cover `0..len` (their rows sum to `len / width`),
    // and each part wrote its chunk in full before `map` returned.
    unsafe { out.set_len(len) };
    (out, results)
}

/// Adds every one of `parts` into `total`, element by element and in
/// part order (the bits of adding them one after another), the elements
/// cut between threads as [`parameter_ranges`] cuts them.
pub fn add_all_into(total: &mut [f32], parts: &[&[f32]]) {
    let rows = rows(total.len(), PARAMETER_SHARE);
    let jobs = chunks_mut(total, &rows, 1)
        .into_iter()
        .zip(starts(&rows))
        .collect();
    workers::each(jobs, |(total, first)| {
        for part in parts {
            add_into(total, &part[first..first + total.len()]);
        }
    });
}

/// Adds `part` into `total`, element by element.
pub fn add_into(total: &mut [f32], part: &[f32]) {
    total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranges cover a parameter once, in order, none shorter than a
    /// share unless the parameter is.
    #[test]
    fn parameter_ranges_cover_every_element_once() {
        for len in [
            0,
            1,
            PARAMETER_SHARE,
            2 * PARAMETER_SHARE - 1,
            5 * PARAMETER_SHARE + 3,
        ] {
            let ranges = parameter_ranges(len);
            assert_eq!(ranges.first().map(|r| r.start), Some(0), "{len}");
            assert_eq!(ranges.last().map(|r| r.end), Some(len), "{len}");
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start), "{len}");
            if ranges.len() > 1 {
                assert!(ranges.iter().all(|r| r.len() >= PARAMETER_SHARE), "{len}");
            }
        }
    }

    /// Summed between threads, the parts give the bits of adding them
    /// one after another on one thread.
    #[test]
    fn adding_parts_in_ranges_gives_the_bits_of_adding_them_in_turn() {
        let len = 3 * PARAMETER_SHARE + 5;
        let wave = |f: f32| -> Vec<f32> { (0..len).map(|i| (i as f32 * f).sin() * 1e3).collect() };
        let parts = [wave(0.37), wave(0.11), wave(2.9)];
        let mut one_by_one = wave(0.5);
        for p in &parts {
            add_into(&mut one_by_one, p);
        }
        let mut together = wave(0.5);
        add_all_into(
            &mut together,
            &parts.iter().map(|p| &p[..]).collect::<Vec<_>>(),
        );
        assert!(together == one_by_one);
    }
}
