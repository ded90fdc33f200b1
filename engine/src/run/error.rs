//! Why a run ended early: one error type for the run's boundary, from the
//! data, the run folder, checkpoints and the device, each mapped to the
//! `FailureKind` (and so the exit code) a front end shows.

use super::checkpoint::CheckpointError;
use super::events::FailureKind;
use super::lock::LockError;
use crate::data::DataError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data is missing or corrupt.
    #[error("{0} ({hint})", hint = .0.hint())]
    Data(#[from] DataError),
    /// The run cannot go as asked: the data does not fit the model, a
    /// completed run, a teacher that cannot be loaded.
    #[error("{0}")]
    Refused(String),
    /// Another process holds the run folder, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing the run folder or a compressed model failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Device(#[from] crate::backend::Error),
    /// A loss or gradient became non-finite; the message says where.
    #[error("{0}")]
    Diverged(String),
    /// The training thread panicked; the message says where.
    #[error("{0}")]
    Crashed(String),
}

impl Error {
    pub fn kind(&self) -> FailureKind {
        match self {
            Error::Data(_) | Error::Refused(_) => FailureKind::InvalidData,
            Error::Lock(LockError::InUse { .. }) => FailureKind::InvalidData,
            Error::Checkpoint(CheckpointError::Read { .. }) => FailureKind::InvalidData,
            Error::Lock(_) | Error::Checkpoint(_) | Error::Io { .. } | Error::Device(_) => {
                FailureKind::Io
            }
            Error::Diverged(_) => FailureKind::Diverged,
            Error::Crashed(_) => FailureKind::Crashed,
        }
    }

    /// An I/O error with what was being written.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
