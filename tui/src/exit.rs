//! The exit codes, one table for every command (README and `--help` name
//! them; CI scripts depend on them).

use dlwb_engine::run::{ExpectResult, FailureKind, Status};

/// Finished, and every `expect` met.
pub const OK: u8 = 0;
/// Finished, but an `expect` missed.
pub const EXPECT_MISSED: u8 = 1;
/// An invalid file, data or arguments.
pub const INVALID: u8 = 2;
/// Training failed: diverged, an I/O error, a crash.
pub const FAILED: u8 = 3;
/// Interrupted (Ctrl-C, SIGTERM, SIGHUP) after saving a checkpoint.
pub const INTERRUPTED: u8 = 130;

/// The code of a run that failed this way.
pub fn of_failure(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::InvalidData => INVALID,
        FailureKind::Diverged | FailureKind::Io | FailureKind::Crashed => FAILED,
    }
}

/// The code of a run that ended with this status and these verdicts.
pub fn of_finish(status: Status, expect: &[ExpectResult]) -> u8 {
    match status {
        Status::Interrupted => INTERRUPTED,
        _ if expect.iter().any(|e| !e.met) => EXPECT_MISSED,
        _ => OK,
    }
}
