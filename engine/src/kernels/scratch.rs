//! Buffers that go back to the thread that made them, for the next
//! training step to reuse.
//!
//! A recurrent layer's step allocates megabytes per part of the batch
//! (every gate of every step, their gradients) and frees them by the end
//! of the step. From the allocator, the next step's buffers land on
//! whatever memory comes next, often last written by the other core or
//! gone from the caches: zeroing them cost a fifth of a 2-thread LSTM
//! step on a VM whose cores share no cache, and a twentieth on one
//! thread. Kept per thread, the same memory comes back to the same core,
//! warm in its caches.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::thread::ThreadId;

/// Buffers smaller than this go back to the allocator: the reuse pays
/// for large ones only.
const KEPT_FROM: usize = 1 << 14;

/// At most this many values (64 MiB) are kept, over all threads; past
/// it the largest kept buffer goes back to the allocator.
const KEPT_AT_MOST: usize = 1 << 24;

/// Buffers kept for reuse, each with the thread it belongs to.
static KEPT: Mutex<Vec<(ThreadId, Vec<f32>)>> = Mutex::new(Vec::new());

/// Frees what a thread kept when the thread ends (a run's training
/// thread ends with its run).
struct Leaving(ThreadId);

impl Drop for Leaving {
    fn drop(&mut self) {
        kept().retain(|(home, _)| *home != self.0);
    }
}

thread_local! {
    static LEAVING: Leaving = Leaving(std::thread::current().id());
}

/// A buffer of `f32`s that, dropped, is kept for the thread that made it.
#[derive(Debug, Default)]
pub struct Buffer {
    values: Vec<f32>,
    home: Option<ThreadId>,
}

/// `len` zeros: a buffer this thread kept before if one is large enough
/// (the smallest such), else a new one.
pub fn zeroed(len: usize) -> Buffer {
    let mut b = overwritten(len);
    b.fill(0.0);
    b
}

/// `len` values for the caller to overwrite, every one, before reading
/// any: zeros or whatever this thread last left in a buffer it kept.
/// Zeroing megabytes only to overwrite them was a tenth of an LSTM step.
pub fn overwritten(len: usize) -> Buffer {
    // None while the thread ends: its buffers are being freed.
    let home = LEAVING.try_with(|l| l.0).ok();
    let mut values = match home {
        Some(home) if len >= KEPT_FROM => take(home, len).unwrap_or_default(),
        _ => Vec::new(),
    };
    // Only values past the old length are written here.
    values.truncate(len);
    values.resize(len, 0.0);
    Buffer { values, home }
}

fn kept() -> std::sync::MutexGuard<'static, Vec<(ThreadId, Vec<f32>)>> {
    // A poisoned list is still a list of whole buffers.
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// The smallest buffer `home` kept that holds `len` values.
fn take(home: ThreadId, len: usize) -> Option<Vec<f32>> {
    let mut kept = kept();
    let best = kept
        .iter()
        .enumerate()
        .filter(|(_, (owner, v))| *owner == home && v.capacity() >= len)
        .min_by_key(|(_, (_, v))| v.capacity())
        .map(|(i, _)| i)?;
    Some(kept.swap_remove(best).1)
}

/// Fills every kept buffer, to its capacity, with NaN: a test that runs
/// a kernel after this finds any value the kernel read without writing.
#[cfg(test)]
pub fn poison_kept() {
    for (_, v) in kept().iter_mut() {
        v.resize(v.capacity(), f32::NAN);
        v.fill(f32::NAN);
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let (Some(home), values) = (self.home, std::mem::take(&mut self.values)) else {
            return;
        };
        if values.capacity() < KEPT_FROM {
            return;
        }
        let mut kept = kept();
        kept.push((home, values));
        while kept.iter().map(|(_, v)| v.capacity()).sum::<usize>() > KEPT_AT_MOST {
            let largest = (0..kept.len()).max_by_key(|&i| kept[i].1.capacity());
            // Dropped outside the list would need a second lock; a
            // buffer's own drop here frees memory and takes no lock.
            largest.map(|i| kept.swap_remove(i));
        }
    }
}

impl Deref for Buffer {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.values
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kept buffer comes back zeroed, to its own thread only.
    #[test]
    fn a_buffer_comes_back_zeroed_to_the_thread_that_made_it() {
        let len = 3 * KEPT_FROM;
        let mut b = zeroed(len);
        b.iter_mut().for_each(|v| *v = 7.0);
        let at = b.as_ptr();
        drop(b);
        let elsewhere = std::thread::spawn(move || zeroed(len).as_ptr() as usize)
            .join()
            .unwrap();
        assert_ne!(elsewhere, at as usize, "another thread took the buffer");
        let again = zeroed(len - 5);
        assert_eq!(again.as_ptr(), at, "the thread's own buffer was not reused");
        assert_eq!(again.len(), len - 5);
        assert!(again.iter().all(|&v| v == 0.0));
    }

    /// What a thread kept is freed when it ends.
    #[test]
    fn an_ended_thread_keeps_nothing() {
        let home = std::thread::spawn(|| {
            drop(zeroed(2 * KEPT_FROM));
            let home = std::thread::current().id();
            assert!(kept().iter().any(|(h, _)| *h == home));
            home
        })
        .join()
        .unwrap();
        assert!(kept().iter().all(|(h, _)| *h != home));
    }
}
