//! The kernels' threads: a pool that lives as long as the process, whose
//! helpers spin for a while after each job before they sleep.
//!
//! Why not rayon: a `rayon::join` from the training thread (not one of
//! rayon's workers) hands the whole job to a worker through a mutex and a
//! condition variable and sleeps until it comes back, and a worker that
//! has been idle for a few microseconds is asleep too. On a 2-core VM the
//! two wake-ups cost more than an MLP's products take. Here the caller
//! runs parts itself, and a helper that finished a job a moment ago is
//! still spinning and picks the next one up within a cache-line transfer:
//! what OpenMP runtimes do (their "spin count", or "block time").
//!
//! A job is `parts` calls `f(0)`, …, `f(parts - 1)`; each thread taking
//! part claims the next unclaimed index until none is left, so a thread
//! that falls behind (a busy sibling core, a preempted vCPU) runs fewer
//! parts instead of holding the others up. Each part's result is a
//! function of its index alone, so which thread ran it never changes a bit.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use super::matmul::threads;

/// How long a helper spins after its last part before it sleeps: longer
/// than the gaps between one training step's products (activations, a
/// loss, an optimizer step: tens of microseconds), short enough that an
/// idle run does not hold a core.
const SPIN: Duration = Duration::from_micros(500);

/// The low bits of the job word hold how many helpers take part.
const HELPER_BITS: u32 = 16;

thread_local! {
    /// Whether this thread is running a part now: a job started inside a
    /// part runs on this thread alone (and `threads()` says 1 there).
    static IN_PART: Cell<bool> = const { Cell::new(false) };
}

type Part<'a> = &'a (dyn Fn(usize) + Sync);

struct Pool {
    /// One job at a time; a caller that finds it taken runs its parts alone.
    dispatch: Mutex<()>,
    /// `generation << HELPER_BITS | helpers`, stored when a job starts:
    /// what waiting helpers watch. Helpers `0..helpers` take part.
    word: AtomicU64,
    /// The job's `&dyn Fn`, behind a thin pointer to it on the caller's stack.
    job: AtomicPtr<()>,
    parts: AtomicUsize,
    /// The next part to claim.
    next: AtomicUsize,
    /// Helpers taking part that have not finished their parts.
    pending: AtomicUsize,
    /// Helpers started so far.
    started: Mutex<usize>,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    sleeping: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        dispatch: Mutex::new(()),
        word: AtomicU64::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        parts: AtomicUsize::new(0),
        next: AtomicUsize::new(0),
        pending: AtomicUsize::new(0),
        started: Mutex::new(0),
        panic: Mutex::new(None),
        sleeping: AtomicUsize::new(0),
        sleep: Mutex::new(()),
        wake: Condvar::new(),
    })
}

/// Whether the calling thread is inside a part of a job.
pub fn in_part() -> bool {
    IN_PART.with(Cell::get)
}

/// Runs `f(0)`, …, `f(parts - 1)` on up to `threads()` threads (the
/// caller among them) and returns when all have finished. A part's panic
/// is raised here once every part has ended.
pub fn run(parts: usize, f: impl Fn(usize) + Sync) {
    let helpers = threads().min(parts).saturating_sub(1);
    let f: Part<'_> = &f;
    if helpers == 0 || in_part() {
        return alone(parts, f);
    }
    let p = pool();
    // A poisoned lock only says an earlier job's part panicked; that
    // panic was raised to its caller already.
    let _turn = match p.dispatch.try_lock() {
        Ok(turn) => turn,
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return alone(parts, f),
    };
    if start_helpers(p, helpers).is_err() {
        return alone(parts, f);
    }
    p.job
        .store(&f as *const Part<'_> as *mut (), Ordering::Relaxed);
    p.parts.store(parts, Ordering::Relaxed);
    p.next.store(0, Ordering::Relaxed);
    p.pending.store(helpers, Ordering::Relaxed);
    let generation = (p.word.load(Ordering::Relaxed) >> HELPER_BITS) + 1;
    // SeqCst (a release): a helper that reads this word sees the job above;
    // and against `sleeping`, so a helper going to sleep is woken.
    p.word
        .store(generation << HELPER_BITS | helpers as u64, Ordering::SeqCst);
    if p.sleeping.load(Ordering::SeqCst) > 0 {
        let _held = p.sleep.lock();
        p.wake.notify_all();
    }
    let mine = catch_unwind(AssertUnwindSafe(|| own_parts(p)));
    // The helpers borrow `f` and what it captured: wait for them even if
    // this thread's parts panicked.
    wait_for(|| p.pending.load(Ordering::Acquire) == 0);
    let theirs = p.panic.lock().ok().and_then(|mut slot| slot.take());
    if let Some(payload) = mine.err().or(theirs) {
        resume_unwind(payload);
    }
}

/// Every part on the calling thread, in order.
fn alone(parts: usize, f: Part<'_>) {
    let outer = IN_PART.with(|p| p.replace(true));
    let next = AtomicUsize::new(0);
    let panicked = each_caught(&next, parts, f);
    IN_PART.with(|p| p.set(outer));
    if let Some(payload) = panicked {
        resume_unwind(payload);
    }
}

/// Claims parts from `next` until none below `parts` is left, running
/// every one even after one panics; the first panic's payload.
fn each_caught(next: &AtomicUsize, parts: usize, f: Part<'_>) -> Option<Box<dyn Any + Send>> {
    let mut panicked = None;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= parts {
            return panicked;
        }
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(i))) {
            panicked.get_or_insert(payload);
        }
    }
}

/// Runs parts of the current job until none is left to claim.
fn own_parts(p: &Pool) {
    // SAFETY: the job's caller waits in `run` until every thread taking
    // part has finished (`pending`), so the closure is alive here.
    let f = unsafe { *(p.job.load(Ordering::Relaxed) as *const Part<'_>) };
    let parts = p.parts.load(Ordering::Relaxed);
    IN_PART.with(|c| c.set(true));
    let panicked = each_caught(&p.next, parts, f);
    IN_PART.with(|c| c.set(false));
    if let Some(payload) = panicked {
        resume_unwind(payload);
    }
}

/// Spins until `done()`, yielding the core now and then so a thread that
/// was preempted can finish.
pub fn wait_for(done: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn start_helpers(p: &'static Pool, wanted: usize) -> std::io::Result<()> {
    let mut started = p.started.lock().unwrap_or_else(|e| e.into_inner());
    // The word before the job about to be published: a helper that reads
    // the word only once it runs could read the new job's and wait past it.
    let seen = p.word.load(Ordering::Acquire);
    while *started < wanted {
        let index = *started;
        // Unnamed, as scoped threads are: the panic hook keeps an unnamed
        // thread's message for the run to report.
        std::thread::Builder::new().spawn(move || helper(p, index, seen))?;
        *started += 1;
    }
    Ok(())
}

fn helper(p: &'static Pool, index: usize, mut seen: u64) {
    loop {
        seen = next_job(p, seen);
        let helpers = (seen & ((1 << HELPER_BITS) - 1)) as usize;
        if index < helpers {
            // Acquire on the word made the job's fields visible, and the
            // job cannot end before this helper's `pending` share does.
            let done = catch_unwind(AssertUnwindSafe(|| own_parts(p)));
            if let Err(payload) = done {
                if let Ok(mut slot) = p.panic.lock() {
                    slot.get_or_insert(payload);
                }
            }
            p.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Waits for a job word other than `seen`, spinning for [`SPIN`] and then
/// sleeping; returns the new word.
fn next_job(p: &Pool, seen: u64) -> u64 {
    let since = Instant::now();
    let mut spins = 0u32;
    loop {
        let now = p.word.load(Ordering::Acquire);
        if now != seen {
            return now;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(256) && since.elapsed() > SPIN {
            break;
        }
        std::hint::spin_loop();
    }
    let mut held = p.sleep.lock().unwrap_or_else(|e| e.into_inner());
    p.sleeping.fetch_add(1, Ordering::SeqCst);
    loop {
        let now = p.word.load(Ordering::SeqCst);
        if now != seen {
            p.sleeping.fetch_sub(1, Ordering::SeqCst);
            return now;
        }
        held = p.wake.wait(held).unwrap_or_else(|e| e.into_inner());
    }
}

/// Runs `f` on each item, one part per item, and returns the results in
/// the items' order.
pub fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let results: Vec<Mutex<Option<R>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    run(slots.len(), |i| {
        let item = take(&slots[i]).expect("each part takes its item once");
        let r = f(item);
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    results
        .into_iter()
        .map(|r| take(&r).expect("every part finished"))
        .collect()
}

/// Runs `f` on each item, one part per item.
pub fn each<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync) {
    map(items, f);
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_part_runs_once_and_results_keep_their_order() {
        for parts in [0, 1, 2, 3, 17] {
            let runs: Vec<AtomicU32> = (0..parts).map(|_| AtomicU32::new(0)).collect();
            run(parts, |i| {
                runs[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
            let squares = map((0..parts).collect(), |i: usize| i * i);
            assert_eq!(squares, (0..parts).map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_job_inside_a_part_runs_on_that_thread() {
        let inner = map(vec![0, 1], |_| {
            assert!(in_part());
            map(vec![1, 2, 3], |v: i32| v * 2)
        });
        assert_eq!(inner, vec![vec![2, 4, 6]; 2]);
        assert!(!in_part());
    }

    #[test]
    fn a_part_that_panics_raises_its_panic_after_the_others_finish() {
        let finished = AtomicU32::new(0);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            run(4, |i| {
                if i == 1 {
                    panic!("part one");
                }
                finished.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let payload = caught.expect_err("the panic is raised");
        assert_eq!(crate::panic::payload_text(payload.as_ref()), "part one");
        assert_eq!(finished.load(Ordering::Relaxed), 3);
        // The pool still works afterwards.
        assert_eq!(map(vec![1, 2], |v: i32| v + 1), vec![2, 3]);
    }

    #[test]
    fn many_small_jobs_from_several_threads_all_complete() {
        std::thread::scope(|s| {
            for t in 0..3 {
                s.spawn(move || {
                    for j in 0..2000 {
                        let sums = map(vec![t, j, 1], |v: usize| v + 1);
                        assert_eq!(sums, vec![t + 1, j + 1, 2]);
                    }
                });
            }
        });
    }
}
