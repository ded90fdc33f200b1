//! A panic on a run's threads (the training thread, its loader, the
//! kernels' helper threads) must become a `failed` event, not a backtrace
//! painted over the dashboard. The hook installed here keeps such a
//! panic's message and location for the training thread to report, and
//! passes every other thread's panic to the hook that was there before
//! (the test harness's, or ratatui's, which restores the terminal).

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::{Mutex, Once};

thread_local! {
    static RUN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The last panic of a run thread: "message at file:line:col". One slot
/// for the process: two runs crashing at the same moment could swap
/// messages, never lose both.
static LAST: Mutex<Option<String>> = Mutex::new(None);

/// What `std::thread::scope` panics with when one of its threads did: the
/// helper thread's own message, kept before it, says more.
const SCOPED: &str = "a scoped thread panicked";

/// Marks the calling thread as one of a run's.
pub fn mark_run_thread() {
    install();
    RUN_THREAD.with(|r| r.set(true));
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Scoped helper threads have no name and are not marked.
            let helper = std::thread::current().name().is_none();
            if RUN_THREAD.with(Cell::get) || helper {
                keep(info);
            } else {
                previous(info);
            }
        }));
    });
}

fn keep(info: &PanicHookInfo<'_>) {
    let message = payload_text(info.payload());
    if message == SCOPED {
        return;
    }
    let at = info.location().map_or(String::new(), |l| {
        format!(" at {}:{}:{}", l.file(), l.line(), l.column())
    });
    if let Ok(mut last) = LAST.lock() {
        *last = Some(format!("{message}{at}"));
    }
}

/// The text a panic carried.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// The message and location of the panic that ended a run, given what
/// `catch_unwind` caught.
pub fn describe(payload: &(dyn std::any::Any + Send)) -> String {
    LAST.lock()
        .ok()
        .and_then(|mut l| l.take())
        .unwrap_or_else(|| payload_text(payload))
}

/// Forgets a panic kept earlier (a new run starts clean).
pub fn clear() {
    if let Ok(mut l) = LAST.lock() {
        *l = None;
    }
}
